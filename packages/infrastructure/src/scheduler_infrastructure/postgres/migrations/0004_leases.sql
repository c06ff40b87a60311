-- Leases: named, time-limited claims that one holder at a time owns. The dispatchers elect their
-- leader (the one that runs the recovery sweeps) through the row `dispatcher`. `expires_at` is
-- set and compared with the server's now(), so instances with skewed clocks agree on expiry.

CREATE TABLE leases (
    name       TEXT        PRIMARY KEY,
    holder     TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

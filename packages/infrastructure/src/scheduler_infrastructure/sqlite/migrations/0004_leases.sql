-- Leases: named, time-limited claims that one holder at a time owns. The dispatchers elect their
-- leader (the one that runs the recovery sweeps) through the row `dispatcher`. `expires_at` is in
-- microseconds since the epoch, set and compared with SQLite's own clock ('now').

CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

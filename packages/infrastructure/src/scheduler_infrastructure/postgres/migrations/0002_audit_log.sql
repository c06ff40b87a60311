-- The audit log: one row per write through the API (who, what, when, from where).
-- Rows are only ever inserted; listings go newest first, optionally by actor or resource.
-- `source_ip` is TEXT, not INET: it records what the server saw as the peer, which behind a
-- proxy or in a test client is not always an address, and an audit write must never fail on it.

CREATE TABLE audit_log (
    id        BIGSERIAL   PRIMARY KEY,
    actor     TEXT        NOT NULL,
    action    TEXT        NOT NULL,
    resource  TEXT        NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    source_ip TEXT,
    outcome   INTEGER     NOT NULL,
    detail    JSONB       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_resource ON audit_log (resource, id);

-- The audit log: one row per write through the API (who, what, when, from where).
-- Rows are only ever inserted; listings go newest first, optionally by actor or resource.

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    resource  TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    source_ip TEXT,
    outcome   INTEGER NOT NULL,
    detail    TEXT    NOT NULL
);

CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_resource ON audit_log (resource, id);

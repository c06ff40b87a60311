-- The first schema: tasks, their runs, workers and API keys.
-- Datetimes are INTEGER microseconds since the Unix epoch (UTC); dicts and tuples are JSON text.
-- `priority_rank` mirrors Priority.rank so that claiming can order by it.

CREATE TABLE tasks (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL,
    name_folded           TEXT    NOT NULL,  -- lower-cased name, for the case-insensitive filter
    command               TEXT    NOT NULL,
    task_type             TEXT    NOT NULL,
    executor              TEXT    NOT NULL,
    description           TEXT    NOT NULL,
    arguments             TEXT    NOT NULL,
    schedule              TEXT,
    timezone              TEXT    NOT NULL,
    misfire_policy        TEXT    NOT NULL,
    priority              TEXT    NOT NULL,
    status                TEXT    NOT NULL,
    max_retries           INTEGER NOT NULL,
    retry_backoff_seconds REAL    NOT NULL,
    timeout_seconds       INTEGER NOT NULL,
    dependencies          TEXT    NOT NULL,
    tags                  TEXT    NOT NULL,
    metadata              TEXT    NOT NULL,
    created_at            INTEGER,
    updated_at            INTEGER,
    last_run_at           INTEGER,
    next_run_at           INTEGER
);

CREATE INDEX tasks_status ON tasks (status);
CREATE INDEX tasks_next_run_at ON tasks (next_run_at);
-- Names are unique among the tasks that are not archived; archived ones keep their history.
CREATE UNIQUE INDEX tasks_active_name ON tasks (name) WHERE status != 'archived';

CREATE TABLE task_runs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id             INTEGER NOT NULL REFERENCES tasks (id),
    attempt             INTEGER NOT NULL,
    status              TEXT    NOT NULL,
    trigger             TEXT    NOT NULL,
    task_type           TEXT    NOT NULL,
    priority            TEXT    NOT NULL,
    priority_rank       INTEGER NOT NULL,
    timeout_seconds     INTEGER NOT NULL,
    arguments           TEXT,
    idempotency_key     TEXT,
    worker_id           TEXT,
    scheduled_for       INTEGER,
    queued_at           INTEGER,
    started_at          INTEGER,
    completed_at        INTEGER,
    cancel_requested_at INTEGER,
    result              TEXT,
    error_message       TEXT,
    exit_code           INTEGER,
    retry_count         INTEGER NOT NULL,
    created_at          INTEGER,
    updated_at          INTEGER
);

CREATE INDEX task_runs_task_id ON task_runs (task_id);
CREATE INDEX task_runs_claim ON task_runs (status, priority_rank DESC, scheduled_for, id);
CREATE INDEX task_runs_worker_id ON task_runs (worker_id);
CREATE INDEX task_runs_created_at ON task_runs (created_at);
-- One run per cron fire, however many dispatchers race over it.
CREATE UNIQUE INDEX task_runs_one_per_fire ON task_runs (task_id, scheduled_for) WHERE trigger = 'schedule';
CREATE UNIQUE INDEX task_runs_idempotency_key ON task_runs (task_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE workers (
    id                   TEXT    PRIMARY KEY,
    hostname             TEXT    NOT NULL,
    ip_address           TEXT    NOT NULL,
    port                 INTEGER NOT NULL,
    task_types           TEXT    NOT NULL,
    max_concurrent_tasks INTEGER NOT NULL,
    current_task_count   INTEGER NOT NULL,
    status               TEXT    NOT NULL,
    last_heartbeat       INTEGER,
    registered_at        INTEGER,
    metadata             TEXT    NOT NULL
);

CREATE INDEX workers_status ON workers (status);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    key_hash     TEXT    NOT NULL,
    created_at   INTEGER,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);

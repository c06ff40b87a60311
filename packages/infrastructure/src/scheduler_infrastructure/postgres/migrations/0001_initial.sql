-- The first schema: tasks, their runs, workers and API keys.
-- Tables, types and indexes follow the seed design (BIGSERIAL ids, TIMESTAMPTZ, JSONB, INET),
-- with what the scheduler needs on top: run attempts and triggers, the priority rank that
-- claiming orders by, uniqueness of a cron fire and of an idempotency key, and partial indexes
-- that keep the two hot scans (due schedules, claimable runs) proportional to what they return.
-- Every column is written by the repositories on every insert; the defaults serve hand-written SQL.

CREATE TABLE tasks (
    id                    BIGSERIAL        PRIMARY KEY,
    name                  VARCHAR(255)     NOT NULL,
    name_folded           TEXT             NOT NULL,  -- lower-cased name, for the case-insensitive filter
    description           TEXT             NOT NULL DEFAULT '',
    task_type             VARCHAR(100)     NOT NULL,
    executor              TEXT             NOT NULL DEFAULT '',
    command               TEXT             NOT NULL,
    arguments             JSONB            NOT NULL DEFAULT '{}',
    schedule              TEXT,
    timezone              TEXT             NOT NULL DEFAULT 'UTC',
    misfire_policy        VARCHAR(20)      NOT NULL DEFAULT 'run_once',
    priority              VARCHAR(20)      NOT NULL DEFAULT 'normal',
    status                VARCHAR(20)      NOT NULL DEFAULT 'active',
    max_retries           INTEGER          NOT NULL DEFAULT 0,
    retry_backoff_seconds DOUBLE PRECISION NOT NULL DEFAULT 10,
    timeout_seconds       INTEGER          NOT NULL DEFAULT 3600,
    created_at            TIMESTAMPTZ      DEFAULT now(),
    updated_at            TIMESTAMPTZ      DEFAULT now(),
    last_run_at           TIMESTAMPTZ,
    next_run_at           TIMESTAMPTZ,
    dependencies          JSONB            NOT NULL DEFAULT '[]',
    tags                  JSONB            NOT NULL DEFAULT '[]',
    metadata              JSONB            NOT NULL DEFAULT '{}'
);

CREATE INDEX tasks_status ON tasks (status);
CREATE INDEX tasks_schedule ON tasks (schedule) WHERE schedule IS NOT NULL;
CREATE INDEX tasks_next_run_at ON tasks (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX tasks_created_at ON tasks (created_at);
CREATE INDEX tasks_tags ON tasks USING GIN (tags);
-- The due-schedule scan: only active tasks with a next fire, in the order they are due.
CREATE INDEX tasks_due ON tasks (next_run_at, id) WHERE status = 'active' AND next_run_at IS NOT NULL;
-- Names are unique among the tasks that are not archived; archived ones keep their history.
CREATE UNIQUE INDEX tasks_active_name ON tasks (name) WHERE status <> 'archived';

CREATE TABLE task_runs (
    id                  BIGSERIAL   PRIMARY KEY,
    task_id             BIGINT      NOT NULL REFERENCES tasks (id),
    attempt             INTEGER     NOT NULL DEFAULT 1,
    status              VARCHAR(20) NOT NULL DEFAULT 'pending',
    trigger             VARCHAR(20) NOT NULL DEFAULT 'manual',
    task_type           VARCHAR(100) NOT NULL,
    priority            VARCHAR(20) NOT NULL DEFAULT 'normal',
    priority_rank       SMALLINT    NOT NULL DEFAULT 1,  -- Priority.rank: low 0 .. critical 3
    timeout_seconds     INTEGER     NOT NULL DEFAULT 3600,
    arguments           JSONB,
    idempotency_key     TEXT,
    worker_id           TEXT,
    scheduled_for       TIMESTAMPTZ,
    queued_at           TIMESTAMPTZ,
    started_at          TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    cancel_requested_at TIMESTAMPTZ,
    result              JSONB,
    error_message       TEXT,
    exit_code           INTEGER,
    retry_count         INTEGER     NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ DEFAULT now(),
    updated_at          TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX task_runs_task_id ON task_runs (task_id);
CREATE INDEX task_runs_status ON task_runs (status);
CREATE INDEX task_runs_worker_id ON task_runs (worker_id);
CREATE INDEX task_runs_created_at ON task_runs (created_at);
-- Claiming: pending runs in dispatch order, so `LIMIT n ... FOR UPDATE SKIP LOCKED` reads ~n entries.
CREATE INDEX task_runs_claimable ON task_runs (priority_rank DESC, scheduled_for, id) WHERE status = 'pending';
-- One run per cron fire, however many dispatchers race over it.
CREATE UNIQUE INDEX task_runs_one_per_fire ON task_runs (task_id, scheduled_for) WHERE trigger = 'schedule';
CREATE UNIQUE INDEX task_runs_idempotency_key ON task_runs (task_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE workers (
    id                   TEXT COLLATE "C" PRIMARY KEY,  -- byte order, as every backend lists workers
    hostname             TEXT        NOT NULL,
    ip_address           INET        NOT NULL,
    port                 INTEGER     NOT NULL,
    task_types           JSONB       NOT NULL,
    max_concurrent_tasks INTEGER     NOT NULL DEFAULT 5,
    current_task_count   INTEGER     NOT NULL DEFAULT 0,
    status               VARCHAR(20) NOT NULL DEFAULT 'registering',
    last_heartbeat       TIMESTAMPTZ DEFAULT now(),
    registered_at        TIMESTAMPTZ DEFAULT now(),
    metadata             JSONB       NOT NULL DEFAULT '{}'
);

CREATE INDEX workers_status ON workers (status);
CREATE INDEX workers_last_heartbeat ON workers (last_heartbeat);
CREATE INDEX workers_task_types ON workers USING GIN (task_types);

CREATE TABLE api_keys (
    id           BIGSERIAL   PRIMARY KEY,
    name         TEXT        NOT NULL,
    role         VARCHAR(20) NOT NULL,
    key_hash     TEXT        NOT NULL,
    created_at   TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT api_keys_key_hash UNIQUE (key_hash)
);

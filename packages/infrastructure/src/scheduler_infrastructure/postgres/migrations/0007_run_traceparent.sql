-- The W3C trace context of the request that created each run, so that the dispatcher and the
-- worker continue its trace. NULL: no trace was active (cron fires, dependency releases).

ALTER TABLE task_runs ADD COLUMN traceparent TEXT;

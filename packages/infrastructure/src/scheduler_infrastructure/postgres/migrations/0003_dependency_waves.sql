-- Dependency waves (docs/architecture.md, "Dependencies"): the runs a dependency release creates.
-- `wave_id` is the id of the wave's root run; NULL on a root run itself (its wave is its own id).
-- No foreign key: the root run is a plain run, and pruning old runs must not depend on the order.
-- `waiting` marks a pending run held until every upstream of its task in the wave succeeded.

ALTER TABLE task_runs ADD COLUMN wave_id BIGINT;
ALTER TABLE task_runs ADD COLUMN waiting BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX task_runs_wave ON task_runs (wave_id) WHERE wave_id IS NOT NULL;
-- One released (or skipped) run per task and wave, however many upstream ends race to create it.
-- Retries of that run keep the wave but have the trigger `retry`, so they are not covered.
CREATE UNIQUE INDEX task_runs_one_per_wave ON task_runs (task_id, wave_id) WHERE trigger = 'dependency';

-- Claiming skips waiting runs: the partial index keeps to the claimable ones.
DROP INDEX task_runs_claimable;
CREATE INDEX task_runs_claimable ON task_runs (priority_rank DESC, scheduled_for, id)
    WHERE status = 'pending' AND NOT waiting;

-- Finding the tasks downstream of a task (`dependencies @> [id]`) when one of its runs ends.
CREATE INDEX tasks_dependencies ON tasks USING GIN (dependencies jsonb_path_ops);

-- Dependency waves (docs/architecture.md, "Dependencies"): the runs a dependency release creates.
-- `wave_id` is the id of the wave's root run; NULL on a root run itself (its wave is its own id).
-- `waiting` (0/1) marks a pending run held until every upstream of its task in the wave succeeded;
-- claiming skips it.

ALTER TABLE task_runs ADD COLUMN wave_id INTEGER;
ALTER TABLE task_runs ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;

CREATE INDEX task_runs_wave ON task_runs (wave_id) WHERE wave_id IS NOT NULL;
-- One released (or skipped) run per task and wave, however many upstream ends race to create it.
-- Retries of that run keep the wave but have the trigger `retry`, so they are not covered.
CREATE UNIQUE INDEX task_runs_one_per_wave ON task_runs (task_id, wave_id) WHERE trigger = 'dependency';

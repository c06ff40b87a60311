-- Dispatch wake-ups: PostgreSQL itself announces a run that became claimable, at the commit that
-- made it so, on the channel the dispatchers LISTEN to (`scheduler_dispatch.<schema>`, cut to the
-- 63 characters PostgreSQL keeps: see `wakeup.py`). The notification travels with the commit, so a
-- dispatcher is woken as soon as the run can be seen, never before, and never for a write that was
-- rolled back; NOTIFYs of one transaction reach a listener as one.
--
-- Claimable means pending and not waiting on upstreams: a run stored so (a manual trigger, a cron
-- fire) or released by its upstreams. A run put back to pending after a failed publish wakes no
-- one: with the broker down, waking would only repeat the failure; the next scan retries it.

CREATE FUNCTION notify_dispatchers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('scheduler_dispatch.' || current_schema(), 63), '');
    RETURN NULL;
END
$$;

CREATE TRIGGER task_runs_claimable_stored AFTER INSERT ON task_runs
    FOR EACH ROW WHEN (NEW.status = 'pending' AND NOT NEW.waiting)
    EXECUTE FUNCTION notify_dispatchers();

CREATE TRIGGER task_runs_released AFTER UPDATE OF waiting ON task_runs
    FOR EACH ROW WHEN (OLD.waiting AND NOT NEW.waiting AND NEW.status = 'pending')
    EXECUTE FUNCTION notify_dispatchers();

-- API key changes announced: PostgreSQL itself NOTIFYs the id of an API key whose revocation,
-- expiry, role or hash changed, or that was deleted (an empty payload after a TRUNCATE: any key),
-- at the commit that changed it, on the channel every API process LISTENs to
-- (`scheduler_keys.<schema>`, the schema of the table, cut to the 63 characters PostgreSQL keeps:
-- see `key_changes.py`). Each API process then stops trusting the key it remembered, so a key
-- revoked through one API process, from the command line or by hand in the database, stops
-- working on all of them at once rather than when their key caches expire. Marking a key used, or
-- renaming it, announces nothing.

CREATE FUNCTION notify_api_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify(left('scheduler_keys.' || TG_TABLE_SCHEMA, 63), '');
    ELSE
        PERFORM pg_notify(left('scheduler_keys.' || TG_TABLE_SCHEMA, 63), OLD.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys
    FOR EACH ROW WHEN (
        OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
        OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
        OR OLD.role IS DISTINCT FROM NEW.role
        OR OLD.key_hash IS DISTINCT FROM NEW.key_hash
    )
    EXECUTE FUNCTION notify_api_key_change();

CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION notify_api_key_change();

CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_api_key_change();

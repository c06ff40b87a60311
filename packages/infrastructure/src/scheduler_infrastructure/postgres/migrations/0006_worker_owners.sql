-- The credential that registered each worker (the subject of its API key), so that a worker key
-- acts only for the workers it registered. NULL: registered in-process (standalone), or before
-- this migration.

ALTER TABLE workers ADD COLUMN registered_by TEXT;

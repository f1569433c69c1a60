-- A ticket whose pipeline did not finish (the process died between two steps) stays `new`.
-- The sweep that resumes or escalates such tickets claims each one first by moving this
-- lease forward with a conditional UPDATE: of two servers on one database, only the one
-- whose UPDATE changed the row acts, so each stalled ticket is handled exactly once.

ALTER TABLE tickets ADD COLUMN pipeline_lease_until TEXT;
CREATE INDEX tickets_stalled ON tickets (status, created_at);

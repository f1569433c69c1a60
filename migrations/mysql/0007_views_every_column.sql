-- MySQL and MariaDB expand a view's `*` when the view is created: `actionable_tickets` and
-- `unprocessed_messages` (0001) kept the columns tickets and messages had then, and showed
-- neither `request_hash` (0002), `pipeline_lease_until` (0004) nor `priority_given` (0006).
-- Created again, they show every column the tables have now. A migration that adds a
-- column to tickets or messages recreates the view over it too (a test compares them).

CREATE OR REPLACE VIEW actionable_tickets AS
SELECT t.*,
       CASE t.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END AS priority_rank
FROM tickets t
WHERE t.status IN ('new', 'open', 'in_progress', 'escalated');

CREATE OR REPLACE VIEW unprocessed_messages AS
SELECT * FROM messages WHERE processed = 0;

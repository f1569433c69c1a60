-- SQLite reads a view's `*` each time the view is used, so `actionable_tickets` and
-- `unprocessed_messages` already show every column tickets and messages have; MySQL's
-- were fixed at creation and are created again in its 0007. The views are created again
-- here too, unchanged, so that both directories hold the same versions.

DROP VIEW actionable_tickets;
CREATE VIEW actionable_tickets AS
SELECT t.*,
       CASE t.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END AS priority_rank
FROM tickets t
WHERE t.status IN ('new', 'open', 'in_progress', 'escalated');

DROP VIEW unprocessed_messages;
CREATE VIEW unprocessed_messages AS
SELECT * FROM messages WHERE processed = 0;

-- Whether the client chose a ticket's priority. Classification predicts it otherwise,
-- also when it classifies the ticket after a restart (the sweep), which could not tell
-- before. Tickets stored earlier count as chosen: their priority is kept, as it was.

ALTER TABLE tickets ADD COLUMN priority_given INTEGER NOT NULL DEFAULT 1 CHECK (priority_given IN (0, 1));

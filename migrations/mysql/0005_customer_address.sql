-- The earlier project's customers carry a postal address (its POST /customers field
-- `address`); its clients keep working unchanged.

ALTER TABLE customers ADD COLUMN address VARCHAR(500) NULL;

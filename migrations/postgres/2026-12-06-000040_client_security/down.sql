ALTER TABLE clients DROP COLUMN security;

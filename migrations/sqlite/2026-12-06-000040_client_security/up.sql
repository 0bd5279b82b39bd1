-- See the PostgreSQL migration for the meaning of the column.
ALTER TABLE clients ADD COLUMN security TEXT NOT NULL DEFAULT '{}';

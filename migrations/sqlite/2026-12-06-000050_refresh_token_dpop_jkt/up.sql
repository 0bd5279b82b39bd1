-- See the PostgreSQL migration for the meaning of the column.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;

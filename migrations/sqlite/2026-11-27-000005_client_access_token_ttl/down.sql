ALTER TABLE clients DROP COLUMN access_token_ttl_secs;

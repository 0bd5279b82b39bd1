-- A client's own access-token lifetime, in seconds; NULL means the configured default.
ALTER TABLE clients ADD COLUMN access_token_ttl_secs INTEGER;

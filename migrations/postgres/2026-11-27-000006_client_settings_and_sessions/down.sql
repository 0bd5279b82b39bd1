DROP TABLE pairwise_subjects;
ALTER TABLE refresh_tokens DROP COLUMN access_token_expires_at;
ALTER TABLE refresh_tokens DROP COLUMN access_token_jti;
ALTER TABLE refresh_tokens DROP COLUMN sid;
DELETE FROM clients WHERE (kind = 'public') <> (secret_hash IS NULL);
ALTER TABLE clients
    DROP CONSTRAINT clients_auth_check,
    DROP COLUMN post_logout_redirect_uris,
    DROP COLUMN backchannel_logout_uri,
    DROP COLUMN grant_types,
    DROP COLUMN subject_type,
    DROP COLUMN sector_identifier,
    DROP COLUMN jwks,
    DROP COLUMN jwks_uri,
    DROP COLUMN updated_at,
    ADD CONSTRAINT clients_check CHECK ((kind = 'public') = (secret_hash IS NULL));

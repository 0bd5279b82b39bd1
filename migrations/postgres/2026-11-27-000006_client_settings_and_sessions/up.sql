-- Every client setting an operator can register (issue: client administration).
-- Clients that authenticate with a signed assertion (private_key_jwt) are confidential
-- without a secret, so the old "confidential = has a secret" check becomes a check on
-- the authentication method.
ALTER TABLE clients DROP CONSTRAINT clients_check;
ALTER TABLE clients
    ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    ADD COLUMN backchannel_logout_uri    TEXT,
    ADD COLUMN grant_types               TEXT NOT NULL DEFAULT 'authorization_code refresh_token',
    -- Existing clients keep the subjects they already hold; new ones default to pairwise.
    ADD COLUMN subject_type              TEXT NOT NULL DEFAULT 'public'
        CHECK (subject_type IN ('public', 'pairwise')),
    ADD COLUMN sector_identifier          TEXT,
    ADD COLUMN jwks                       TEXT,
    ADD COLUMN jwks_uri                   TEXT,
    ADD COLUMN updated_at                 TIMESTAMP,
    ADD CONSTRAINT clients_auth_check CHECK (
        (kind = 'public') = (auth_method = 'none')
        AND (secret_hash IS NOT NULL) = (auth_method IN ('client_secret_basic', 'client_secret_post'))
    );

-- The login session a refresh-token family came from (OIDC `sid`), so ID tokens issued
-- on refresh carry the same `sid` as the first one.
ALTER TABLE refresh_tokens ADD COLUMN sid TEXT;
-- The access token issued with each refresh token, so that revoking the family also
-- revokes the access tokens it yielded (RFC 7009 §2.1).
ALTER TABLE refresh_tokens ADD COLUMN access_token_jti TEXT;
ALTER TABLE refresh_tokens ADD COLUMN access_token_expires_at TIMESTAMP;

-- Pairwise subjects (OIDC Core §8.1) are keyed hashes and cannot be inverted, so the
-- ones handed out are remembered: userinfo and introspection map them back.
CREATE TABLE pairwise_subjects (
    subject     TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    sector      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX pairwise_subjects_by_account ON pairwise_subjects (account_id);

-- See the PostgreSQL migration for the meaning of each column. SQLite cannot drop a
-- CHECK constraint, so the table is rebuilt (https://sqlite.org/lang_altertable.html,
-- "making other kinds of table schema changes").
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE clients_new (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    kind                      TEXT NOT NULL CHECK (kind IN ('public', 'confidential')),
    secret_hash               BLOB,
    redirect_uris             TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL CHECK (id_token_alg IN ('RS256', 'ES256')),
    auth_method               TEXT NOT NULL,
    created_at                TIMESTAMP NOT NULL,
    access_token_ttl_secs     INTEGER,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    backchannel_logout_uri    TEXT,
    grant_types               TEXT NOT NULL DEFAULT 'authorization_code refresh_token',
    subject_type              TEXT NOT NULL DEFAULT 'public'
        CHECK (subject_type IN ('public', 'pairwise')),
    sector_identifier         TEXT,
    jwks                      TEXT,
    jwks_uri                  TEXT,
    updated_at                TIMESTAMP,
    CHECK ((kind = 'public') = (auth_method = 'none')),
    CHECK ((secret_hash IS NOT NULL) = (auth_method IN ('client_secret_basic', 'client_secret_post')))
);
INSERT INTO clients_new (client_id, name, kind, secret_hash, redirect_uris, scopes,
                         id_token_alg, auth_method, created_at, access_token_ttl_secs)
SELECT client_id, name, kind, secret_hash, redirect_uris, scopes,
       id_token_alg, auth_method, created_at, access_token_ttl_secs
FROM clients;
DROP TABLE clients;
ALTER TABLE clients_new RENAME TO clients;
ALTER TABLE refresh_tokens ADD COLUMN sid TEXT;
-- The access token issued with each refresh token, so that revoking the family also
-- revokes the access tokens it yielded (RFC 7009 §2.1).
ALTER TABLE refresh_tokens ADD COLUMN access_token_jti TEXT;
ALTER TABLE refresh_tokens ADD COLUMN access_token_expires_at TIMESTAMP;
CREATE TABLE pairwise_subjects (
    subject     TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    sector      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX pairwise_subjects_by_account ON pairwise_subjects (account_id);
COMMIT;
PRAGMA foreign_keys = ON;

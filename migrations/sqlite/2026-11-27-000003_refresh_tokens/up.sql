-- Refresh tokens (stored by SHA-256, never in clear). Each use rotates the token; the
-- tokens of one login form a family, revoked as a whole when a used token is replayed.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    family_id   TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    client_id   TEXT NOT NULL REFERENCES clients (client_id),
    scope       TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    acr         TEXT NOT NULL,
    amr         TEXT NOT NULL,
    issued_at   TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    revoked_at  TIMESTAMP
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

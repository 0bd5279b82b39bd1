-- Second factors of an account (TOTP for now). The TOTP secret is sealed with
-- AES-256-GCM under a key derived from the server secret (nonce || ciphertext || tag,
-- the factor id as associated data). `last_used_step` is the last RFC 6238 time step
-- a code was accepted for: a code of that step or an earlier one is refused (replay).
CREATE TABLE second_factors (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('totp')),
    sealed_secret   BYTEA NOT NULL,
    last_used_step  BIGINT,
    created_at      TIMESTAMP NOT NULL
);
-- One TOTP factor per account: a second one would only confuse the citizen.
CREATE UNIQUE INDEX second_factors_one_totp_per_account ON second_factors (account_id)
    WHERE kind = 'totp';

-- One-time recovery codes, stored as SHA-256 digests (base64url); used once.
CREATE TABLE recovery_codes (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_digest TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    PRIMARY KEY (account_id, code_digest)
);

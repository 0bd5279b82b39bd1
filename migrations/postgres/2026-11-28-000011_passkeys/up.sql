-- WebAuthn passkeys, a second factor beside TOTP. Their own table rather than rows of
-- second_factors: a passkey holds a public key (nothing to seal), an account may have
-- several (one per device, each named by the citizen), and its credential id must be
-- unique across all accounts, none of which fits second_factors' sealed secret and
-- one-TOTP-per-account index.
--
-- `credential` is webauthn-rs's `Passkey` as JSON: the credential id, the public key,
-- the signature counter and the backup flags, rewritten after a login that changes them.
-- `credential_id` (base64url) repeats the id for the unique index and for lookups.
CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    credential_id   TEXT NOT NULL UNIQUE,
    credential      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_used_at    TIMESTAMP
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- The people who help (see src/officers/): officers are citizens' accounts with roles,
-- granted by an operator; each may hold personal tokens for the admin API; and a relying
-- party can be disabled without deleting it.
--
-- officer_roles: one row per role an account holds (registrar, support, client-admin,
-- auditor), with who granted it. Revoking a role deletes its row; the grant and the
-- revocation stay in the audit trail.
CREATE TABLE officer_roles (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('registrar', 'support', 'client-admin', 'auditor')),
    granted_at TIMESTAMP NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
);

-- officer_tokens: an officer's personal admin API credential. Only the SHA-256 of the
-- token is kept (it is 256 random bits, so a slow hash adds nothing); the token is shown
-- once. It carries some of the officer's roles and acts with those the officer still
-- holds when it is used.
CREATE TABLE officer_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_digest BLOB NOT NULL UNIQUE,
    roles        TEXT NOT NULL,
    label        TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX officer_tokens_by_account ON officer_tokens (account_id);

-- disabled_clients: a relying party an officer disabled. It keeps its registration,
-- consents and audit trail, but no endpoint knows it until it is enabled again.
CREATE TABLE disabled_clients (
    client_id   TEXT PRIMARY KEY NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    disabled_at TIMESTAMP NOT NULL,
    disabled_by TEXT NOT NULL
);

-- known_devices: the kinds of device (browser and system, from a fixed list, as the
-- sessions list shows them) each account has logged in from, so that a login from a
-- new kind is told to the citizen (notify.new_device_notice).
CREATE TABLE known_devices (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device     TEXT NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, device)
);

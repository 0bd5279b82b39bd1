-- The logout outbox (see src/oidc/logout/outbox.rs). Rows are written in the same
-- transaction as the change that causes them, and sent by the servers' workers, so a
-- restart loses nothing.
--
-- logout_deliveries: one back-channel logout token to send (OIDC Back-Channel Logout
-- 1.0), with what the token says (`sub` as this relying party knows the citizen, the
-- ended session's `sid`, the client's signing `alg`) and where it goes. A worker claims
-- a row by setting claimed_by and a lease (claimed_until); a row whose lease ran out is
-- taken again by any instance. `national_id` is only for the audit row of the outcome.
-- Finished rows (delivered, refused, failed) are deleted after logout.outbox_retention_secs.
CREATE TABLE logout_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    uri             TEXT NOT NULL,
    sub             TEXT NOT NULL,
    sid             TEXT NOT NULL,
    alg             TEXT NOT NULL,
    national_id     TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'refused', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by      TEXT,
    claimed_until   TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (status, next_attempt_at);
CREATE INDEX logout_deliveries_finished ON logout_deliveries (finished_at);
CREATE INDEX logout_deliveries_by_client ON logout_deliveries (client_id);

-- account_logouts: "end every session of this account", written by whoever suspends,
-- locks, lowers or records the death of a citizen (the CLI too, which cannot reach the
-- sessions of a server's in-process store). A server's worker ends the sessions and
-- queues their logout tokens, then deletes the row.
CREATE TABLE account_logouts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    reason          TEXT NOT NULL,
    requested_at    TIMESTAMP NOT NULL,
    claimed_by      TEXT,
    claimed_until   TIMESTAMP
);
CREATE INDEX account_logouts_by_account ON account_logouts (account_id);

-- Messages to citizens (see src/notify/): the notification outbox, and which of an
-- account's contacts the citizen has proven to hold.
--
-- notifications: one message to send, by e-mail (SMTP) or SMS (the gateway), written
-- in the transaction of what causes it and sent by the servers' workers, so a transport
-- that is down loses nothing. A worker claims a row with a lease (claimed_by,
-- claimed_until), as the logout outbox does. The text is rendered when the row is
-- queued; a one-time code in it is useless after expires_at, when the row is dropped
-- unsent. Once a row is finished its recipient and text are blanked, and the row is
-- deleted after notify.outbox_retention_secs.
CREATE TABLE notifications (
    id              BIGSERIAL PRIMARY KEY,
    account_id      TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'refused', 'failed', 'expired')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP,
    claimed_by      TEXT,
    claimed_until   TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_finished ON notifications (finished_at);
CREATE INDEX notifications_by_account ON notifications (account_id);

-- When the citizen proved, with a one-time code sent there, that the phone number or
-- e-mail address on the account is theirs. Only a verified contact is written to.
ALTER TABLE accounts ADD COLUMN phone_verified_at TIMESTAMP;
ALTER TABLE accounts ADD COLUMN email_verified_at TIMESTAMP;

-- Consecutive wrong second factors (TOTP codes, recovery codes, passkey answers) of an
-- account, and when the last one was: the durable half of `authn::factor_lockout`
-- (the store holds the other). A right password, a new login flow, a restart or a
-- lost Redis must not forget them; only an accepted second factor deletes the row.
CREATE TABLE second_factor_failures (
    account_id      TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    failures        BIGINT NOT NULL CHECK (failures > 0),
    last_failure_at TIMESTAMP NOT NULL
);

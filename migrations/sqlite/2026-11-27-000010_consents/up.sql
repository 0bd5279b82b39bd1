-- Clients an operator marks first-party (the state's own services) skip the consent page.
ALTER TABLE clients ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT 0;

-- What each citizen agreed to share with each client: one row per account and client,
-- holding the union of every scope set granted so far. Withdrawal deletes the row.
CREATE TABLE consents (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    granted_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
CREATE INDEX consents_by_client ON consents (client_id);

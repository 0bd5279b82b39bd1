-- OpenID Federation 1.0. The keys that sign this server's entity statements are kept
-- apart from the keys that sign tokens (a relying party must never accept a token
-- signed with a federation key, nor a federation statement signed with a token key):
-- same table, same sealing and rotation, told apart by their purpose.
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'token'
    CHECK (purpose IN ('token', 'federation'));
DROP INDEX signing_keys_one_unretired_per_alg;
CREATE UNIQUE INDEX signing_keys_one_unretired_per_purpose_alg ON signing_keys (purpose, alg)
    WHERE retired_at IS NULL;

-- The entities this server vouches for when it is a trust anchor or an intermediate:
-- what its fetch endpoint says about each (their federation keys, and the metadata
-- policy and metadata it imposes on them). Operators add them with
-- `citizen-idp federation subordinate add`.
CREATE TABLE federation_subordinates (
    entity_id       TEXT PRIMARY KEY,
    jwks            TEXT NOT NULL,
    metadata_policy TEXT,
    metadata        TEXT,
    -- Limits on the chain below it (max_path_length, naming_constraints,
    -- allowed_entity_types), as JSON.
    constraints     TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Relying parties registered automatically (OpenID Federation 1.0 §12.1): a client row
-- made from the metadata of a trust chain resolved to `trust_anchor`, trusted until
-- `expires_at` (the chain's expiry, or sooner) and resolved again after it. Rows of
-- `clients` without one here are registered by operators.
CREATE TABLE federated_clients (
    client_id    TEXT PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    trust_anchor TEXT NOT NULL,
    resolved_at  TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    -- SHA-256 of the resolved metadata: a change is audited, a renewal is not.
    metadata_sha256 TEXT NOT NULL,
    -- The organisation the chain names (its federation_entity organization_name),
    -- shown to citizens beside the service's name.
    organization TEXT NOT NULL
);

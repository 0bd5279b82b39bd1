-- Signing keys, shared by every instance on this database. The private key is sealed
-- with AES-256-GCM under a key derived from the server secret (nonce || ciphertext ||
-- tag, the kid as associated data), and wiped once no token it signed can still be
-- valid; the row stays, for the record.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    alg             TEXT NOT NULL CHECK (alg IN ('RS256', 'ES256')),
    sealed_key      BLOB,
    created_at      TIMESTAMP NOT NULL,
    activated_at    TIMESTAMP NOT NULL,
    retired_at      TIMESTAMP,
    published_until TIMESTAMP,
    CHECK ((retired_at IS NULL) = (published_until IS NULL))
);
-- At most one key per algorithm has no retirement time: two instances that start at
-- once cannot both add a first key, and two rotations at once cannot both succeed.
CREATE UNIQUE INDEX signing_keys_one_unretired_per_alg ON signing_keys (alg)
    WHERE retired_at IS NULL;

PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE pairwise_subjects;
ALTER TABLE refresh_tokens DROP COLUMN access_token_expires_at;
ALTER TABLE refresh_tokens DROP COLUMN access_token_jti;
ALTER TABLE refresh_tokens DROP COLUMN sid;
CREATE TABLE clients_old (
    client_id          TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('public', 'confidential')),
    secret_hash        BLOB,
    redirect_uris      TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    id_token_alg       TEXT NOT NULL CHECK (id_token_alg IN ('RS256', 'ES256')),
    auth_method        TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    access_token_ttl_secs INTEGER,
    CHECK ((kind = 'public') = (secret_hash IS NULL))
);
INSERT INTO clients_old
SELECT client_id, name, kind, secret_hash, redirect_uris, scopes,
       id_token_alg, auth_method, created_at, access_token_ttl_secs
FROM clients
WHERE (kind = 'public') = (secret_hash IS NULL);
DROP TABLE clients;
ALTER TABLE clients_old RENAME TO clients;
COMMIT;
PRAGMA foreign_keys = ON;

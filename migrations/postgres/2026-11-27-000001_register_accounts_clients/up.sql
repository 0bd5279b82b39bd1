-- The population register, e-ID accounts and relying parties (PostgreSQL).
CREATE TABLE citizens (
    national_id        TEXT PRIMARY KEY CHECK (national_id ~ '^[0-9]{12}$'),
    full_name          TEXT NOT NULL,
    family_name        TEXT NOT NULL,
    middle_name        TEXT NOT NULL,
    given_name         TEXT NOT NULL,
    birth_date         DATE NOT NULL,
    sex                TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    nationality        TEXT NOT NULL,
    place_of_origin    TEXT NOT NULL,
    address_street     TEXT NOT NULL,
    address_ward       TEXT NOT NULL,
    address_district   TEXT NOT NULL,
    address_province   TEXT NOT NULL,
    address_country    TEXT NOT NULL,
    id_card_number     TEXT NOT NULL,
    id_card_issued_on  DATE NOT NULL,
    id_card_expires_on DATE,
    life_status        TEXT NOT NULL CHECK (life_status IN ('living', 'deceased')),
    updated_at         TIMESTAMP NOT NULL
);

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    national_id      TEXT NOT NULL UNIQUE REFERENCES citizens (national_id),
    password_hash    TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'locked', 'suspended')),
    assurance_level  INTEGER NOT NULL CHECK (assurance_level IN (1, 2)),
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE clients (
    client_id          TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('public', 'confidential')),
    secret_hash        BYTEA,
    redirect_uris      TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    id_token_alg       TEXT NOT NULL CHECK (id_token_alg IN ('RS256', 'ES256')),
    auth_method        TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    CHECK ((kind = 'public') = (secret_hash IS NULL))
);

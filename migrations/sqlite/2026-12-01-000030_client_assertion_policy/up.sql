-- See the PostgreSQL migration for the meaning of each column.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_signing_alg TEXT;
ALTER TABLE clients ADD COLUMN assertion_audience TEXT NOT NULL DEFAULT 'oidc'
    CHECK (assertion_audience IN ('issuer', 'oidc'));

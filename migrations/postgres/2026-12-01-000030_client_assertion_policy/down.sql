ALTER TABLE clients
    DROP COLUMN assertion_audience,
    DROP COLUMN token_endpoint_auth_signing_alg;

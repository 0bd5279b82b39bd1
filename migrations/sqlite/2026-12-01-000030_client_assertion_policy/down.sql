ALTER TABLE clients DROP COLUMN assertion_audience;
ALTER TABLE clients DROP COLUMN token_endpoint_auth_signing_alg;

-- Client assertions (RFC 7523), per client (issue 15):
-- token_endpoint_auth_signing_alg: the one JWS algorithm its assertions may use (RFC 7591
--   §2); NULL allows any asymmetric algorithm that fits the registered key.
-- assertion_audience: 'issuer' accepts only the issuer identifier as a single string as
--   `aud`; 'oidc' also the token endpoint URL, and arrays (OIDC Core §9). Clients that
--   exist keep what they had ('oidc'); the application registers new ones as 'issuer'.
ALTER TABLE clients
    ADD COLUMN token_endpoint_auth_signing_alg TEXT,
    ADD COLUMN assertion_audience TEXT NOT NULL DEFAULT 'oidc'
        CHECK (assertion_audience IN ('issuer', 'oidc'));

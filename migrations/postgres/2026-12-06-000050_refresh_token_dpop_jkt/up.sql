-- The RFC 7638 thumbprint of the DPoP key a public client's refresh token is bound to
-- (RFC 9449 §5): the token is refreshed only with a proof signed by that key. NULL for
-- an unbound token (a confidential client's, or one issued without a proof).
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;

-- The high-assurance metadata of a client (issue 17), as one JSON object by its registered
-- names (profile, require_pushed_authorization_requests, dpop_bound_access_tokens,
-- request_object_signing_alg, id_token_encrypted_response_alg/enc,
-- userinfo_signed_response_alg, userinfo_encrypted_response_alg/enc). The application
-- parses it on every read and refuses a row it cannot read; '{}' is the standard profile
-- with nothing more, which is what every client registered before had.
ALTER TABLE clients ADD COLUMN security TEXT NOT NULL DEFAULT '{}';

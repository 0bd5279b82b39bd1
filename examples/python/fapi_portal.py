"""A FAPI 2.0 relying party of citizen-idp in Python, with Authlib and joserfc: a
confidential client that authenticates with its key (private_key_jwt), pushes its
authorization request (PAR), binds its tokens to a DPoP key, and gets its ID tokens
encrypted to its own key. The steps of docs/relying-parties.md §14 as commands, each
printing one JSON object.

    python3 fapi_portal.py keygen --keys=client-keys.json   # prints the JWKS to register
    python3 fapi_portal.py authorize-url --issuer=URL --client-id=ID --redirect-uri=URI \
        --keys=client-keys.json --dpop-key=dpop-key.json
    python3 fapi_portal.py exchange --issuer=URL --client-id=ID --redirect-uri=URI \
        --keys=client-keys.json --dpop-key=dpop-key.json --code=CODE --verifier=VERIFIER \
        --nonce=NONCE

A real portal keeps state, nonce, verifier and the DPoP key in its server-side session
and never prints tokens; this one prints them so that the next step can be run by hand.
"""

import argparse
import json
import os
import sys
import time
from urllib.parse import urlencode

from authlib.common.security import generate_token
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

from dpop import DPoPKey, DPoPSession, require_bound
from keys import TIMEOUT, InvalidToken, Jwks, discover

LEVELS_OF_ASSURANCE = ["urn:citizen-idp:loa:1", "urn:citizen-idp:loa:2"]
# What this client registers, and so the only things it accepts (FAPI 2.0 §5.4.1).
SIGNING_ALG = "ES256"
ID_TOKEN_ENCRYPTION = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}


# --- the client's own keys ---------------------------------------------------------


def keygen(path):
    """Two P-256 keys: one signs the client's assertions, the other receives encrypted
    ID tokens. The private halves go to `path` (readable by its owner only); the
    public JWK Set is what the operator registers (`--jwks-file`)."""
    signing = ECKey.generate_key("P-256", {"use": "sig", "alg": SIGNING_ALG}, auto_kid=True)
    encryption = ECKey.generate_key("P-256", {"use": "enc"}, auto_kid=True)
    private = KeySet([signing, encryption])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(private.as_dict(private=True), file)
    return {"jwks": private.as_dict(private=False)}


class ClientKeys:
    def __init__(self, path):
        with open(path, encoding="utf-8") as file:
            keys = KeySet.import_key_set(json.load(file)).keys
        self.signing = next(k for k in keys if k.get("use") == "sig")
        self.encryption = [k for k in keys if k.get("use") == "enc"]


class IssuerAudienceJWT(PrivateKeyJWT):
    """`private_key_jwt` as this provider (and FAPI 2.0 §5.3.2.1) wants it: `aud` is the
    issuer identifier, as one string, never the token endpoint's URL (the audience
    injection advisory of 2025, RFC 7523bis). Authlib's own `PrivateKeyJWT` puts the
    endpoint URL there and makes assertions that live an hour; this one lives a minute,
    and each gets a new `jti`, since the provider accepts each `jti` once."""

    def __init__(self, issuer, kid):
        super().__init__(alg=SIGNING_ALG)
        self.issuer = issuer
        self.kid = kid

    def sign(self, auth, token_endpoint):
        now = int(time.time())
        claims = {
            "iss": auth.client_id,
            "sub": auth.client_id,
            "aud": self.issuer,
            "jti": generate_token(36),
            "iat": now,
            "exp": now + 60,
        }
        header = {"alg": SIGNING_ALG, "kid": self.kid}
        return jwt.encode(header, claims, auth.client_secret, algorithms=[SIGNING_ALG])


def session(args, metadata, **kwargs):
    keys = ClientKeys(args.keys)
    return DPoPSession(
        DPoPKey.load_or_create(args.dpop_key),
        client_id=args.client_id,
        # Authlib passes the "secret" to the auth method: here, the private signing key.
        client_secret=keys.signing,
        token_endpoint_auth_method=IssuerAudienceJWT(metadata["issuer"], keys.signing.kid),
        redirect_uri=args.redirect_uri,
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
        **kwargs,
    )


class ProviderError(Exception):
    pass


def oauth_error(response):
    try:
        body = response.json()
    except ValueError:
        body = {}
    return ProviderError(
        f"{response.status_code} {body.get('error', 'no error code')}: "
        f"{body.get('error_description', '')}"
    )


# --- the steps ---------------------------------------------------------------------


def authorize_url(args, metadata):
    """PAR (RFC 9126): the request goes to the provider over the back channel, with the
    client's authentication and a DPoP proof (RFC 9449 §10.1: the code is then bound
    to the DPoP key). The browser gets only `client_id` and the `request_uri`."""
    endpoint = metadata.get("pushed_authorization_request_endpoint")
    if not endpoint:
        raise ProviderError("the provider does not advertise a PAR endpoint")
    client = session(args, metadata)
    # RFC 7636 §4.1: 43 to 128 characters; 48 random URL-safe characters.
    verifier = generate_token(48)
    state = generate_token(32)
    nonce = generate_token(32)
    request = {
        "response_type": "code",
        "client_id": args.client_id,
        "redirect_uri": args.redirect_uri,
        "scope": " ".join(["openid", *args.scope]),
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    response = client.post(
        endpoint,
        data=request,
        auth=client.client_auth(client.token_endpoint_auth_method),
        withhold_token=True,
        allow_redirects=False,
    )
    if response.status_code != 201:
        raise oauth_error(response)
    pushed = response.json()
    request_uri = pushed.get("request_uri", "")
    if not request_uri.startswith("urn:ietf:params:oauth:request_uri:"):
        raise ProviderError(f"unexpected request_uri {request_uri!r}")
    query = urlencode({"client_id": args.client_id, "request_uri": request_uri})
    return {
        "url": f"{metadata['authorization_endpoint']}?{query}",
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "request_uri": request_uri,
        "expires_in": pushed.get("expires_in"),
        "dpop_jkt": client.dpop_key.jkt,
        "dpop_nonce_retries": client.nonce_retries,
    }


def decrypt_id_token(id_token, keys):
    """The signed ID token inside the JWE (OIDC Core §10.2: signed, then encrypted).
    Only the registered algorithms: a provider that sent anything else, or an ID token
    that is not encrypted at all, is refused."""
    if id_token.count(".") != 4:
        raise InvalidToken("the ID token is not encrypted, though the client registered it")
    try:
        # The key is picked by the JWE's `kid` among the client's `use: enc` keys, and
        # the registry admits only the registered `alg` and `enc`.
        decrypted = jwe.decrypt_compact(
            id_token,
            KeySet(keys.encryption),
            algorithms=[ID_TOKEN_ENCRYPTION["alg"], ID_TOKEN_ENCRYPTION["enc"]],
        )
    except JoseError as e:
        raise InvalidToken(f"the ID token does not decrypt: {e}") from e
    header = decrypted.headers()
    for name, value in ID_TOKEN_ENCRYPTION.items():
        if header.get(name) != value:
            raise InvalidToken(f"the ID token's {name} is {header.get(name)!r}, not {value}")
    # RFC 7519 §5.2: a nested JWT says so.
    if str(header.get("cty", "")).upper() != "JWT":
        raise InvalidToken("the JWE does not hold a JWT")
    summary = {name: header.get(name) for name in ("alg", "enc", "cty", "kid")}
    return decrypted.plaintext.decode("ascii"), summary


def verify_id_token(signed, metadata, args):
    claims = Jwks(metadata["jwks_uri"]).verify(
        signed, expected_typ="jwt", expected_alg=SIGNING_ALG
    )
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": args.client_id},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": args.nonce},
        acr={"essential": True, "values": LEVELS_OF_ASSURANCE},
    )
    try:
        registry.validate(claims)
    except JoseError as e:
        raise InvalidToken(f"ID token claims: {e}") from e
    if claims.get("azp", args.client_id) != args.client_id:
        raise InvalidToken("the ID token was issued to another party")
    return claims


def exchange(args, metadata):
    client = session(args, metadata)
    # The token request carries the assertion and a DPoP proof of the same key as the
    # one sent to /par; a `use_dpop_nonce` answer is retried once with the nonce.
    token = client.fetch_token(
        metadata["token_endpoint"],
        grant_type="authorization_code",
        code=args.code,
        code_verifier=args.verifier,
    )
    bound = require_bound(token, client.dpop_key)
    signed, encryption = decrypt_id_token(token["id_token"], ClientKeys(args.keys))
    claims = verify_id_token(signed, metadata, args)
    # Authorization: DPoP <token>, and a proof with `ath`.
    response = client.get(metadata["userinfo_endpoint"], allow_redirects=False)
    if response.status_code != 200:
        raise ProviderError(
            f"userinfo {response.status_code}: {response.headers.get('WWW-Authenticate')}"
        )
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        raise ProviderError("userinfo is not JSON: this client registered no signed answers")
    userinfo = response.json()
    if userinfo.get("sub") != claims["sub"]:
        raise InvalidToken("userinfo is about another subject")
    return {
        "verified": True,
        **bound,
        "id_token_encryption": encryption,
        "id_token_claims": claims,
        "userinfo": userinfo,
        "dpop_nonce_retries": client.nonce_retries,
        "id_token": token["id_token"],
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("keygen")
    command.add_argument("--keys", required=True, help="where to write the private keys")
    for name in ("authorize-url", "exchange"):
        command = commands.add_parser(name)
        command.add_argument("--issuer", required=True)
        command.add_argument("--client-id", required=True)
        command.add_argument("--redirect-uri", required=True)
        command.add_argument("--keys", required=True, help="the file keygen wrote")
        command.add_argument(
            "--dpop-key", required=True, help="the session's DPoP key (created if missing)"
        )
        if name == "authorize-url":
            command.add_argument("--scope", action="append", default=[])
        else:
            command.add_argument("--code", required=True)
            command.add_argument("--verifier", required=True)
            command.add_argument("--nonce", required=True)
    args = parser.parse_args()
    try:
        if args.command == "keygen":
            output = keygen(args.keys)
        else:
            metadata = discover(args.issuer)
            if args.command == "authorize-url":
                output = authorize_url(args, metadata)
            else:
                output = exchange(args, metadata)
    except Exception as e:  # one line on stderr and a failure status, for any cause
        print(f"fapi_portal.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(output, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

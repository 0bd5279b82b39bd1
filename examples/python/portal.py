"""A relying party of citizen-idp in Python, with Authlib: the portal steps of
docs/relying-parties.md as commands, each printing one JSON object.

    python3 portal.py authorize-url --issuer URL --client-id ID --redirect-uri URI
    PORTAL_CLIENT_SECRET=... python3 portal.py exchange --issuer URL --client-id ID \
        --redirect-uri URI --code CODE --verifier VERIFIER --nonce NONCE

A real portal keeps state, nonce and verifier in its server-side session and never
prints tokens; this one prints them so that the next step can be run by hand.
"""

import argparse
import json
import os
import sys

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from keys import TIMEOUT, InvalidToken, Jwks, discover

LEVELS_OF_ASSURANCE = ["urn:citizen-idp:loa:1", "urn:citizen-idp:loa:2"]


def session(args, **kwargs):
    # The secret comes from the environment, not the command line, where other users
    # of the machine could read it.
    return OAuth2Session(
        client_id=args.client_id,
        client_secret=os.environ.get("PORTAL_CLIENT_SECRET"),
        token_endpoint_auth_method="client_secret_basic",
        redirect_uri=args.redirect_uri,
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
        **kwargs,
    )


def authorize_url(args, metadata):
    # RFC 7636 §4.1: 43 to 128 characters; 48 random URL-safe characters.
    verifier = generate_token(48)
    nonce = generate_token(32)
    url, state = session(args, scope=" ".join(["openid", *args.scope])).create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    return {"url": url, "state": state, "nonce": nonce, "verifier": verifier}


def verify_id_token(id_token, metadata, args):
    client_id = args.client_id
    # Only the algorithm the client was registered with (`--id-token-alg`).
    claims = Jwks(metadata["jwks_uri"]).verify(
        id_token, expected_typ="jwt", expected_alg=args.id_token_alg
    )
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": client_id},
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
    # OIDC Core §2: with azp present it must be this client.
    if claims.get("azp", client_id) != client_id:
        raise InvalidToken("the ID token was issued to another party")
    return claims


def exchange(args, metadata):
    client = session(args)
    token = client.fetch_token(
        metadata["token_endpoint"],
        grant_type="authorization_code",
        code=args.code,
        code_verifier=args.verifier,
    )
    claims = verify_id_token(token["id_token"], metadata, args)
    response = client.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    response.raise_for_status()
    userinfo = response.json()
    # OIDC Core §5.3.2: a userinfo answer about anyone else must be discarded.
    if userinfo.get("sub") != claims["sub"]:
        raise InvalidToken("userinfo is about another subject")
    return {
        "verified": True,
        "id_token_claims": claims,
        "userinfo": userinfo,
        "id_token": token["id_token"],
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("authorize-url", "exchange"):
        command = commands.add_parser(name)
        command.add_argument("--issuer", required=True)
        command.add_argument("--client-id", required=True)
        command.add_argument("--redirect-uri", required=True)
        if name == "authorize-url":
            command.add_argument("--scope", action="append", default=[])
        else:
            command.add_argument("--code", required=True)
            command.add_argument("--verifier", required=True)
            command.add_argument("--nonce", required=True)
            command.add_argument("--id-token-alg", choices=["RS256", "ES256"], default="RS256")
    args = parser.parse_args()
    try:
        metadata = discover(args.issuer)
        if args.command == "authorize-url":
            output = authorize_url(args, metadata)
        else:
            output = exchange(args, metadata)
    except Exception as e:  # one line on stderr and a failure status, for any cause
        print(f"portal.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(output, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

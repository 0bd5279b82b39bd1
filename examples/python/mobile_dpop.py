"""A mobile app of citizen-idp in Python, with Authlib and joserfc: a public client
(no secret) with PKCE, whose access and refresh tokens are bound to a DPoP key that
never leaves the device. The steps of docs/relying-parties.md §15 as commands, each
printing one JSON object.

    python3 mobile_dpop.py authorize-url --issuer=URL --client-id=ID \
        --redirect-uri=http://127.0.0.1:PORT/callback --dpop-key=dpop-key.json
    python3 mobile_dpop.py exchange ... --code=CODE --verifier=VERIFIER --nonce=NONCE
    python3 mobile_dpop.py refresh ... --refresh-token=TOKEN
    python3 mobile_dpop.py userinfo --issuer=URL --dpop-key=... --access-token=TOKEN \
        [--as-bearer]

`--as-bearer` sends the token the way a thief who copied it (but not the key) would:
the provider refuses it, and the command fails. A real app keeps the key in the
platform keystore (non-exportable), state, nonce and verifier in memory, and never
prints tokens; this one prints them so that the next step can be run by hand.
"""

import argparse
import json
import sys

import requests
from authlib.common.security import generate_token
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from dpop import DPoPKey, DPoPSession, require_bound
from keys import TIMEOUT, InvalidToken, Jwks, discover

LEVELS_OF_ASSURANCE = ["urn:citizen-idp:loa:1", "urn:citizen-idp:loa:2"]


class ProviderError(Exception):
    pass


def session(args, **kwargs):
    # A public client: Authlib's `none` method sends `client_id` in the form and no
    # secret; the DPoP key (and PKCE) are what an attacker cannot replay.
    return DPoPSession(
        DPoPKey.load_or_create(args.dpop_key),
        client_id=args.client_id,
        token_endpoint_auth_method="none",
        redirect_uri=args.redirect_uri,
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
        **kwargs,
    )


def authorize_url(args, metadata):
    client = session(args, scope=" ".join(["openid", *args.scope]))
    verifier = generate_token(48)
    nonce = generate_token(32)
    # RFC 9449 §10: `dpop_jkt` binds the code to the key, so that a code intercepted on
    # its way back to the app (another app claiming the redirect URI) is useless.
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"],
        code_verifier=verifier,
        nonce=nonce,
        dpop_jkt=client.dpop_key.jkt,
    )
    return {
        "url": url,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "dpop_jkt": client.dpop_key.jkt,
    }


def verify_id_token(id_token, metadata, args, nonce):
    """As portal.py does; an ID token from a refresh carries no nonce (OIDC Core
    §12.2), so `nonce` is None there."""
    claims = Jwks(metadata["jwks_uri"]).verify(
        id_token, expected_typ="jwt", expected_alg=args.id_token_alg
    )
    options = {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "value": args.client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "sub": {"essential": True},
        "acr": {"essential": True, "values": LEVELS_OF_ASSURANCE},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    elif "nonce" in claims:
        raise InvalidToken("an ID token from a refresh carries no nonce")
    try:
        JWTClaimsRegistry(**options).validate(claims)
    except JoseError as e:
        raise InvalidToken(f"ID token claims: {e}") from e
    if claims.get("azp", args.client_id) != args.client_id:
        raise InvalidToken("the ID token was issued to another party")
    return claims


def call_userinfo(client, metadata):
    response = client.get(metadata["userinfo_endpoint"], allow_redirects=False)
    if response.status_code != 200:
        raise ProviderError(
            f"userinfo {response.status_code}: {response.headers.get('WWW-Authenticate')}"
        )
    return response.json()


def exchange(args, metadata):
    client = session(args)
    token = client.fetch_token(
        metadata["token_endpoint"],
        grant_type="authorization_code",
        code=args.code,
        code_verifier=args.verifier,
    )
    bound = require_bound(token, client.dpop_key)
    claims = verify_id_token(token["id_token"], metadata, args, args.nonce)
    userinfo = call_userinfo(client, metadata)
    if userinfo.get("sub") != claims["sub"]:
        raise InvalidToken("userinfo is about another subject")
    return {
        "verified": True,
        **bound,
        "id_token_claims": claims,
        "userinfo": userinfo,
        "dpop_nonce_retries": client.nonce_retries,
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
    }


def refresh(args, metadata):
    client = session(args)
    # The refresh token is bound to the key too: the proof must come from the same key,
    # and the new tokens are bound to it again.
    token = client.refresh_token(metadata["token_endpoint"], refresh_token=args.refresh_token)
    bound = require_bound(token, client.dpop_key)
    claims = verify_id_token(token["id_token"], metadata, args, None)
    return {
        "verified": True,
        **bound,
        "id_token_claims": claims,
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
    }


def userinfo(args, metadata):
    endpoint = metadata["userinfo_endpoint"]
    if args.as_bearer:
        # No key: the token alone, as anyone who copied it would send it.
        response = requests.get(
            endpoint,
            headers={"Authorization": f"Bearer {args.access_token}"},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        if response.status_code != 200:
            raise ProviderError(
                f"userinfo {response.status_code}: {response.headers.get('WWW-Authenticate')}"
            )
        return {"userinfo": response.json()}
    client = session(args, token={"access_token": args.access_token, "token_type": "DPoP"})
    return {"userinfo": call_userinfo(client, metadata)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("authorize-url", "exchange", "refresh", "userinfo"):
        command = commands.add_parser(name)
        command.add_argument("--issuer", required=True)
        command.add_argument(
            "--dpop-key", required=True, help="the app's DPoP key (created if missing)"
        )
        if name == "userinfo":
            command.add_argument("--access-token", required=True)
            command.add_argument("--as-bearer", action="store_true")
            command.set_defaults(client_id=None, redirect_uri=None)
            continue
        command.add_argument("--client-id", required=True)
        command.add_argument("--redirect-uri", required=True)
        if name == "authorize-url":
            command.add_argument("--scope", action="append", default=[])
            continue
        command.add_argument("--id-token-alg", choices=["RS256", "ES256"], default="RS256")
        if name == "exchange":
            command.add_argument("--code", required=True)
            command.add_argument("--verifier", required=True)
            command.add_argument("--nonce", required=True)
        else:
            command.add_argument("--refresh-token", required=True)
    args = parser.parse_args()
    steps = {
        "authorize-url": authorize_url,
        "exchange": exchange,
        "refresh": refresh,
        "userinfo": userinfo,
    }
    try:
        metadata = discover(args.issuer)
        output = steps[args.command](args, metadata)
    except Exception as e:  # one line on stderr and a failure status, for any cause
        print(f"mobile_dpop.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(output, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A relying party's back-channel logout endpoint (OIDC Back-Channel Logout 1.0 §2.5):
it validates each logout token citizen-idp POSTs, answers 200 for a valid one and 400
otherwise, and prints one JSON line per token.

    python3 backchannel_receiver.py --issuer URL --client-id ID [--port N] [--once]

Its first line is {"listening": URL}: register that URL with
`citizen-idp clients create ... --backchannel-logout-uri URL`.
"""

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from keys import InvalidToken, Jwks, discover

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def validate_logout_token(token, jwks, issuer, client_id, alg, seen_jtis):
    """§2.6: the claims of a valid logout token, or InvalidToken. Logout tokens are
    signed with the client's ID token algorithm."""
    claims = jwks.verify(token, expected_typ="logout+jwt", expected_alg=alg)
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as e:
        raise InvalidToken(f"logout token claims: {e}") from e
    if not isinstance(claims.get("events"), dict) or not isinstance(
        claims["events"].get(EVENT), dict
    ):
        raise InvalidToken("no back-channel logout event")
    if not claims.get("sid") and not claims.get("sub"):
        raise InvalidToken("neither sid nor sub")
    # §2.4: a nonce would make it an ID token in disguise.
    if "nonce" in claims:
        raise InvalidToken("a logout token must not contain a nonce")
    # §2.6 point 10 (optional): the same token twice is a replay.
    if claims["jti"] in seen_jtis:
        raise InvalidToken("replayed jti")
    seen_jtis[claims["jti"]] = claims["exp"]
    return claims


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--id-token-alg", choices=["RS256", "ES256"], default="RS256")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--once", action="store_true", help="exit after one valid token")
    parser.add_argument("--timeout", type=float, default=60, help="give up after SECONDS")
    args = parser.parse_args()
    jwks = Jwks(discover(args.issuer)["jwks_uri"])
    seen_jtis = {}
    done = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(min(length, 65536)).decode())
            tokens = form.get("logout_token", [])
            try:
                if len(tokens) != 1:
                    raise InvalidToken("exactly one logout_token is required")
                claims = validate_logout_token(
                    tokens[0], jwks, args.issuer, args.client_id, args.id_token_alg, seen_jtis
                )
            except InvalidToken as e:
                print(json.dumps({"valid": False, "error": str(e)}), flush=True)
                self.answer(400, {"error": "invalid_request", "error_description": str(e)})
                return
            # Here a real portal ends its sessions with this sid (or all of sub's).
            print(json.dumps({"valid": True, "claims": claims}), flush=True)
            self.answer(200, None)
            done.append(claims)

        def answer(self, status, body):
            data = json.dumps(body).encode() if body else b""
            self.send_response(status)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_):
            pass  # standard output carries the results only

    server = HTTPServer(("127.0.0.1", args.port), Handler)
    server.timeout = 0.5
    port = server.server_address[1]
    print(json.dumps({"listening": f"http://127.0.0.1:{port}/backchannel"}), flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and not (args.once and done):
        server.handle_request()
    return 0 if done or not args.once else 1


if __name__ == "__main__":
    sys.exit(main())

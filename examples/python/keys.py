"""The provider's signing keys for the Python examples: discovery, a cached JWKS that
is fetched again once when a token names an unknown key (keys rotate), and JWS
verification with the algorithm taken from the key.

Authlib 1.9 deprecates its `authlib.jose` module in favour of joserfc (by the same
authors, installed with Authlib), so tokens are verified with joserfc.
"""

import requests
from joserfc import jws, jwt
from joserfc.jwk import KeySet

# Never hang on a stalled provider.
TIMEOUT = 10


def discover(issuer):
    response = requests.get(
        f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT, allow_redirects=False
    )
    response.raise_for_status()
    metadata = response.json()
    # OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if metadata.get("issuer") != issuer:
        raise ValueError(f"discovery names issuer {metadata.get('issuer')!r}")
    return metadata


class InvalidToken(Exception):
    pass


class Jwks:
    """Keep one per process; `find` refetches at most once per unknown `kid`."""

    def __init__(self, jwks_uri):
        self.uri = jwks_uri
        self.keys = self._fetch()

    def _fetch(self):
        response = requests.get(self.uri, timeout=TIMEOUT, allow_redirects=False)
        response.raise_for_status()
        return response.json()["keys"]

    def find(self, kid):
        for attempt in range(2):
            for key in self.keys:
                if key.get("kid") == kid:
                    return key
            if attempt == 0:
                self.keys = self._fetch()
        raise InvalidToken(f"no key {kid} in the JWKS")

    def verify(self, token, expected_typ, expected_alg):
        """The claims of `token` once its `typ`, algorithm and signature are checked;
        the caller checks the claims themselves."""
        try:
            header = jws.extract_compact(token.encode()).protected
        except Exception as e:
            raise InvalidToken(f"malformed token: {e}") from e
        # Explicit typing keeps an ID token, an access token (at+jwt) and a logout
        # token (logout+jwt), all signed with the same keys, from passing as another.
        if str(header.get("typ", "")).lower() != expected_typ:
            raise InvalidToken(f"typ is {header.get('typ')!r}, not {expected_typ}")
        key = self.find(header.get("kid"))
        # The algorithm comes from the key, never from the token's header.
        if key.get("alg") != expected_alg or header.get("alg") != key["alg"]:
            raise InvalidToken(f"the token or its key is not {expected_alg}")
        try:
            return jwt.decode(
                token, KeySet.import_key_set({"keys": [key]}), algorithms=[key["alg"]]
            ).claims
        except Exception as e:
            raise InvalidToken(f"bad signature: {e}") from e

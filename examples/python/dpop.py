"""DPoP (RFC 9449) for the Python examples: a key pair kept by the client, the proofs
it signs, and an Authlib session that sends one with every request.

Authlib 1.9 has no DPoP client, so the proofs are made here with joserfc. A proof is a
JWT that the client signs for one request: header `typ: dpop+jwt`, `alg`, and the
public key as `jwk`; claims `jti` (unique), `htm` (the method), `htu` (the URL without
query or fragment), `iat`, the server's `nonce` when it asked for one, and `ath` (the
access token's SHA-256) at a resource. Tokens are then bound to the key (`cnf.jkt`, its
RFC 7638 thumbprint): a copy of them is useless without the private key.
"""

import base64
import hashlib
import json
import os
import time
from urllib.parse import urlsplit, urlunsplit

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import ECKey

# The only proof algorithm used here; the provider lists the ones it accepts in
# `dpop_signing_alg_values_supported`.
ALG = "ES256"


class DPoPKey:
    """A P-256 key that signs proofs. Keep one per installation (a mobile app) or per
    session (a portal), in storage that only the client can read."""

    def __init__(self, key):
        self.key = key

    @classmethod
    def generate(cls):
        return cls(ECKey.generate_key("P-256", private=True))

    @classmethod
    def load_or_create(cls, path):
        """The key in `path`, or a new one written there (readable by its owner only).
        A phone would keep it in its keystore, marked non-exportable."""
        try:
            with open(path, encoding="utf-8") as file:
                return cls(ECKey.import_key(json.load(file)))
        except FileNotFoundError:
            pass
        dpop_key = cls.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(dpop_key.key.as_dict(private=True), file)
        return dpop_key

    @property
    def jkt(self):
        """The RFC 7638 thumbprint that bound tokens carry as `cnf.jkt`."""
        return self.key.thumbprint()

    def public_jwk(self):
        # Only the public members: a proof that carried `d` would give the key away.
        full = self.key.as_dict(private=False)
        return {name: full[name] for name in ("kty", "crv", "x", "y")}

    def proof(self, method, url, nonce=None, access_token=None):
        header = {"typ": "dpop+jwt", "alg": ALG, "jwk": self.public_jwk()}
        claims = {
            "jti": generate_token(32),
            "htm": method.upper(),
            "htu": htu(url),
            "iat": int(time.time()),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        return jwt.encode(header, claims, self.key, algorithms=[ALG])


def htu(url):
    """RFC 9449 §4.2: the request's URL without its query and fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def access_token_hash(access_token):
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def asks_for_nonce(response):
    """RFC 9449 §8: the server wants a proof with its nonce (`DPoP-Nonce` header), as a
    JSON error at the authorization server, or as a challenge at a resource (§9)."""
    if "DPoP-Nonce" not in response.headers:
        return False
    if response.status_code == 401:
        challenge = response.headers.get("WWW-Authenticate", "")
        return challenge.startswith("DPoP ") and 'error="use_dpop_nonce"' in challenge
    if response.status_code == 400:
        try:
            return response.json().get("error") == "use_dpop_nonce"
        except ValueError:
            return False
    return False


class NotBound(Exception):
    """The provider answered with a token that is not DPoP-bound."""


class DPoPSession(OAuth2Session):
    """An Authlib `OAuth2Session` whose every request carries a DPoP proof: at the
    token and PAR endpoints (client authentication as Authlib does it), and at a
    resource with `Authorization: DPoP <token>` and a proof with `ath`.

    When the server answers `use_dpop_nonce`, the request is signed again once with the
    nonce it gave. The latest nonce is kept for the next requests (RFC 9449 §8.2)."""

    def __init__(self, dpop_key, **kwargs):
        super().__init__(**kwargs)
        self.dpop_key = dpop_key
        self.dpop_nonce = None
        # How many times a request was signed again for a nonce (shown by the examples).
        self.nonce_retries = 0

    def request(self, method, url, withhold_token=False, auth=None, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        access_token = None
        if not withhold_token and auth is None:
            # A resource request. Authlib knows only the Bearer scheme, so the DPoP
            # scheme is written here; a bound token sent as Bearer is refused anyway.
            token = self.token or {}
            if str(token.get("token_type", "")).lower() != "dpop":
                raise NotBound(f"token_type is {token.get('token_type')!r}, not DPoP")
            access_token = token["access_token"]
            headers["Authorization"] = f"DPoP {access_token}"
            withhold_token = True
        for attempt in range(2):
            # A new proof (a new `jti`) each time: the server accepts each proof once.
            # Client authentication runs again too, so an assertion gets a new `jti`.
            headers["DPoP"] = self.dpop_key.proof(method, url, self.dpop_nonce, access_token)
            response = super().request(
                method, url, withhold_token=withhold_token, auth=auth, headers=headers, **kwargs
            )
            nonce = response.headers.get("DPoP-Nonce")
            if nonce:
                self.dpop_nonce = nonce
            if attempt == 0 and asks_for_nonce(response):
                self.nonce_retries += 1
                continue
            return response
        return response


def require_bound(token, dpop_key):
    """The token response must say DPoP (RFC 9449 §5): a client that asked for a bound
    token and got a Bearer one would otherwise send a stealable token around."""
    if str(token.get("token_type", "")).lower() != "dpop":
        raise NotBound(f"token_type is {token.get('token_type')!r}, not DPoP")
    return {"token_type": token["token_type"], "dpop_jkt": dpop_key.jkt}

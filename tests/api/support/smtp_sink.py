"""A real SMTP server for the notification tests: aiosmtpd on loopback.

Usage: smtp_sink.py MODE PORT DIR [FAIL_FIRST]
  MODE  starttls: STARTTLS required, then AUTH (user "relay", password "relay-password")
        tls:      TLS from the first byte, then AUTH
        none:     plain, no AUTH
  DIR   where the certificate authority and the server's certificate are written
  FAIL_FIRST  answer "451" to the first N messages (a relay that is down for now)

Prints "ready CA_PEM_PATH" once it listens, then one JSON line per message accepted:
{"from": ..., "to": [...], "data": ...}.
"""

import asyncio
import warnings
import json
import os
import ssl
import subprocess
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

warnings.filterwarnings("ignore")

USER = b"relay"
PASSWORD = b"relay-password"


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 signed by it (webpki refuses a
    self-signed end-entity certificate)."""
    ca_key, ca_pem = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr, pem = (os.path.join(directory, name) for name in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_pem, "-days", "2", "-subj", "/CN=test relay CA")
    run("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial",
        "-out", pem, "-days", "2", "-extfile", ext)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem, key)
    return ca_pem, context


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    return AuthResult(success=ok)


class Handler:
    def __init__(self, fail_first):
        self.fail_left = fail_first

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 Try again later"
        line = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }
        print(json.dumps(line), flush=True)
        return "250 OK"


def main():
    mode, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    ca_pem, context = make_certificates(directory)
    options = dict(hostname="127.0.0.1", port=port)
    if mode == "starttls":
        options.update(tls_context=context, require_starttls=True,
                       authenticator=authenticate, auth_require_tls=True, auth_required=True)
    elif mode == "tls":
        options.update(ssl_context=context, authenticator=authenticate,
                       auth_require_tls=False, auth_required=True)
    controller = Controller(Handler(fail_first), **options)
    controller.start()
    print(f"ready {ca_pem}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

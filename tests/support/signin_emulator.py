"""A loopback AWS sign-in service for the login credential tests: CreateOAuth2Token with a
refresh token (`POST /v1/token`, rest-json, the body the model's tokenInput payload), on
127.0.0.1 with a port the kernel picks; the tests give it to ecrup as AWS_ENDPOINT_URL_SIGNIN.

Every call must carry a DPoP proof (RFC 9449) made as botocore's _build_dpop_header makes it,
and the emulator checks it the way the service would: the JWT's three parts, typ "dpop+jwt",
alg "ES256", a P-256 jwk; the claims htm "POST", htu this URL's /v1/token, iat within a minute
of now, jti a UUID never seen before; the ES256 signature (64 bytes r || s) verified over
"header.claims" with the jwk's public key (python `cryptography`); and the jwk must be the key
the refresh token was bound to (add_session), as the real service binds it (cnf.jkt). The
header and claims must also be byte for byte the compact JSON botocore writes, in its key
order. Then the refresh token and client id are checked, the refresh token is spent, and a new
key pair and refresh token (bound to the same key) are issued.

make_key() generates a P-256 key at test time and returns its PEM (what `aws login` caches as
dpopKey); no key is ever written to the repository.

`failures` queues what to answer the next calls with instead: "expired" (401
AccessDeniedException TOKEN_EXPIRED), "changed" (403 USER_CREDENTIALS_CHANGED), "denied" (403
INSUFFICIENT_PERMISSIONS), "throttle" (429 TooManyRequestsError) or "500"
(InternalServerException). Every call is recorded in `calls` (tokens as SHA-256 only, and the
DPoP verdict) for assertions. Pairs prepared with prepare_pairs() are the next ones issued, so
write_keys() can hand them to `ecrup serve --keys` before any client asks."""
import base64
import hashlib
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse

from http_json import reply_json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def make_key(form="sec1"):
    """A new P-256 private key: (PEM text, the public key's jwk x and y). `form` "sec1" is the
    "EC PRIVATE KEY" PEM `aws login` writes, "pkcs8" the "PRIVATE KEY" one."""
    key = ec.generate_private_key(ec.SECP256R1())
    fmt = (serialization.PrivateFormat.TraditionalOpenSSL if form == "sec1"
           else serialization.PrivateFormat.PKCS8)
    pem = key.private_bytes(serialization.Encoding.PEM, fmt,
                            serialization.NoEncryption()).decode()
    return pem, jwk_of(key.public_key())


def jwk_of(public_key):
    n = public_key.public_numbers()
    return {"x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}


class SigninEmulator:
    def __init__(self, ttl=900):
        self.lock = threading.Lock()
        self.ttl = ttl  # expiresIn of the issued credentials
        self.sessions = {}  # refresh token -> {"clientId", "jwk": {"x", "y"}, "accountId"}
        self.issued = []  # every key pair issued, in order
        self.prepared = []  # pairs to issue next
        self.jtis = set()
        self.calls = []  # one dict per call
        self.failures = []  # what to answer the next calls with
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.token_url = self.url + "/v1/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- what the test sets up ----

    def add_session(self, client_id, refresh_token, jwk):
        """Accept `refresh_token` from `client_id` with proofs signed by the key whose public
        half is `jwk` ({"x", "y"})."""
        with self.lock:
            self.sessions[refresh_token] = {"clientId": client_id, "jwk": dict(jwk)}

    def _new_pair(self):
        n = len(self.issued) + len(self.prepared) + 1
        return {"accessKeyId": "ASIALOGINEMU%08d" % n,
                "secretAccessKey": "login-emu-secret/%d+%s" % (n, secrets.token_hex(12)),
                "sessionToken": "login-emu-session-%d-%s" % (n, secrets.token_hex(24))}

    def prepare_pairs(self, n):
        """Make the next `n` pairs now; returns them."""
        with self.lock:
            for _ in range(n):
                self.prepared.append(self._new_pair())
            return [dict(p) for p in self.prepared[-n:]]

    def write_keys(self, path, extra=()):
        """Every issued and prepared pair, and `extra` ones, in `ecrup serve --keys` format."""
        with self.lock, open(path, "w") as f:
            for p in list(self.issued) + list(self.prepared) + list(extra):
                f.write("%s %s %s\n" % (p["accessKeyId"], p["secretAccessKey"], p["sessionToken"]))

    # ---- the proof ----

    def verify_dpop(self, proof, bound_jwk=None, now=None):
        """None when `proof` is a valid DPoP proof for a POST to this emulator's token URL
        (signed by `bound_jwk` when given), else why not."""
        now = time.time() if now is None else now
        parts = (proof or "").split(".")
        if len(parts) != 3:
            return "not three parts"
        try:
            header_raw, claims_raw = unb64url(parts[0]), unb64url(parts[1])
            header, claims = json.loads(header_raw), json.loads(claims_raw)
            sig = unb64url(parts[2])
        except ValueError:
            return "undecodable"
        if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
            return "typ/alg"
        jwk = header.get("jwk") or {}
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            return "jwk kty/crv"
        try:
            x, y = unb64url(jwk["x"]), unb64url(jwk["y"])
            public = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"),
                                                   int.from_bytes(y, "big"),
                                                   ec.SECP256R1()).public_key()
        except (KeyError, ValueError):
            return "jwk not a P-256 point"
        if len(x) != 32 or len(y) != 32:
            return "jwk coordinates not 32 bytes"
        # botocore's exact serialisation: compact, in its key order.
        want_header = json.dumps({"typ": "dpop+jwt", "alg": "ES256",
                                  "jwk": {"kty": "EC", "x": jwk["x"], "y": jwk["y"],
                                          "crv": "P-256"}}, separators=(",", ":")).encode()
        want_claims = json.dumps({"htm": claims.get("htm"), "htu": claims.get("htu"),
                                  "iat": claims.get("iat"), "jti": claims.get("jti")},
                                 separators=(",", ":")).encode()
        if header_raw != want_header or claims_raw != want_claims:
            return "not botocore's JSON"
        if claims.get("htm") != "POST" or claims.get("htu") != self.token_url:
            return "htm/htu"
        if not isinstance(claims.get("iat"), int) or abs(claims["iat"] - now) > 60:
            return "iat not fresh"
        if not UUID.match(str(claims.get("jti"))):
            return "jti not a UUID"
        if len(sig) != 64:
            return "signature not 64 bytes"
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                   int.from_bytes(sig[32:], "big"))
        try:
            public.verify(der, (parts[0] + "." + parts[1]).encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "bad signature"
        if bound_jwk is not None and {"x": jwk["x"], "y": jwk["y"]} != bound_jwk:
            return "jwk is not the key the refresh token is bound to"
        with self.lock:
            if claims["jti"] in self.jtis:
                return "jti replayed"
            self.jtis.add(claims["jti"])
        return None

    # ---- the service ----

    def calls_made(self):
        with self.lock:
            return list(self.calls)

    def _error(self, status, kind, code, message):
        return status, {"error": code, "message": message}, kind

    def _create_token(self, body, headers):
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        refresh, client_id = req.get("refreshToken", ""), req.get("clientId", "")
        with self.lock:
            session = self.sessions.get(refresh)
        record = {"clientId": client_id, "grantType": req.get("grantType"),
                  "refresh_sha256": sha(refresh), "body_keys": sorted(req),
                  "content_type": headers.get("content-type")}
        record["dpop"] = self.verify_dpop(headers.get("dpop"),
                                          session["jwk"] if session else None) or "ok"
        with self.lock:
            self.calls.append(record)
            failure = self.failures.pop(0) if self.failures else None
        if failure == "expired":
            return self._error(401, "AccessDeniedException", "TOKEN_EXPIRED", "expired")
        if failure == "changed":
            return self._error(403, "AccessDeniedException", "USER_CREDENTIALS_CHANGED", "gone")
        if failure == "denied":
            return self._error(403, "AccessDeniedException", "INSUFFICIENT_PERMISSIONS", "no")
        if failure == "throttle":
            return self._error(429, "TooManyRequestsError", "INVALID_REQUEST", "slow down")
        if failure == "500":
            return self._error(500, "InternalServerException", "server_error", "oops")
        if record["dpop"] != "ok":
            return self._error(400, "ValidationException", "INVALID_REQUEST", "invalid DPoP")
        if (req.get("grantType") != "refresh_token" or session is None
                or session["clientId"] != client_id):
            return self._error(400, "ValidationException", "INVALID_REQUEST", "invalid grant")
        with self.lock:
            del self.sessions[refresh]
            pair = self.prepared.pop(0) if self.prepared else self._new_pair()
            self.issued.append(pair)
            new_refresh = "login-emu-refresh-" + secrets.token_hex(16)
            self.sessions[new_refresh] = session
        return 200, {"accessToken": dict(pair), "tokenType": "aws_sigv4", "expiresIn": self.ttl,
                     "refreshToken": new_refresh}, None

    def _handler(self):
        emu = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, doc, error_type):
                reply_json(self, status, doc, error_type)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if urllib.parse.urlsplit(self.path).path != "/v1/token":
                    return self._reply(404, {"message": "no such path"}, "NotFound")
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._reply(*emu._create_token(body.decode("utf-8", "replace"), headers))

        return Handler

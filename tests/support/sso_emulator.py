"""A loopback IAM Identity Center for the SSO credential tests: the portal's GetRoleCredentials
(`GET /federation/credentials?role_name=..&account_id=..`, the token in the
x-amz-sso_bearer_token header) and SSO OIDC's CreateToken with a refresh token
(`POST /token`, JSON), on 127.0.0.1 with a port the kernel picks. Both services answer on the
same URL, which the tests give ecrup and botocore as AWS_ENDPOINT_URL_SSO and
AWS_ENDPOINT_URL_SSO_OIDC.

The portal checks the bearer token (one the test added or one CreateToken issued, not
expired), and that the account and role were granted; each granted (account, role) has one
temporary key pair (ASIA... id, secret, session token), made up when granted, so two clients
resolving the same profile get the same pair, and write_keys() can hand it to
`ecrup serve --keys` before any client asks. Every call is recorded in `calls` (tokens as
SHA-256 only) for assertions; `portal_failures` queues status codes to answer first (429
throttling, 5xx) to exercise retries."""
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse

from http_json import reply_json


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


class SsoEmulator:
    def __init__(self, ttl=3600):
        self.lock = threading.Lock()
        self.ttl = ttl  # seconds the issued role credentials and access tokens live
        self.tokens = {}  # valid access token -> its expiry (unix seconds)
        self.grants = {}  # (account_id, role_name) -> the key pair dict
        self.clients = {}  # clientId -> clientSecret
        self.refresh_tokens = {}  # refresh token -> clientId
        self.calls = []  # (operation, details dict), in order
        self.portal_failures = []  # statuses to answer the next GetRoleCredentials with
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- what the test sets up ----

    def add_token(self, token, lifetime=3600):
        with self.lock:
            self.tokens[token] = time.time() + lifetime

    def grant(self, account_id, role_name):
        """Allow (account, role) and return its key pair."""
        with self.lock:
            key = (account_id, role_name)
            if key not in self.grants:
                n = len(self.grants) + 1
                self.grants[key] = {
                    "accessKeyId": "ASIASSOEMU%010d" % n,
                    "secretAccessKey": "sso-emu-secret/%d+%s" % (n, secrets.token_hex(12)),
                    "sessionToken": "sso-emu-session-%d-%s" % (n, secrets.token_hex(24)),
                }
            return dict(self.grants[key])

    def register_client(self, client_id, client_secret, refresh_token):
        with self.lock:
            self.clients[client_id] = client_secret
            self.refresh_tokens[refresh_token] = client_id

    def write_keys(self, path):
        """Every granted pair in `ecrup serve --keys` format: ID SECRET SESSION_TOKEN."""
        with self.lock, open(path, "w") as f:
            for pair in self.grants.values():
                f.write("%s %s %s\n" % (pair["accessKeyId"], pair["secretAccessKey"],
                                        pair["sessionToken"]))

    def calls_of(self, operation):
        with self.lock:
            return [d for op, d in self.calls if op == operation]

    # ---- the services ----

    def _record(self, operation, details):
        with self.lock:
            self.calls.append((operation, details))

    def _role_credentials(self, query, headers):
        token = headers.get("x-amz-sso_bearer_token") or ""
        role = query.get("role_name", [""])[0]
        account = query.get("account_id", [""])[0]
        self._record("GetRoleCredentials", {"role_name": role, "account_id": account,
                                            "token_sha256": sha(token)})
        with self.lock:
            if self.portal_failures:
                status = self.portal_failures.pop(0)
                kind = "TooManyRequestsException" if status == 429 else "InternalServerException"
                return status, {"__type": kind, "message": "try again"}, kind
            expiry = self.tokens.get(token)
            pair = self.grants.get((account, role))
        if expiry is None or expiry <= time.time():
            return 401, {"message": "Session token not found or invalid"}, "UnauthorizedException"
        if pair is None:
            return 403, {"message": "No access"}, "ForbiddenException"
        creds = dict(pair, expiration=int((time.time() + self.ttl) * 1000))
        return 200, {"roleCredentials": creds}, None

    def _create_token(self, body):
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        client_id, refresh = req.get("clientId", ""), req.get("refreshToken", "")
        self._record("CreateToken", {"grantType": req.get("grantType"), "clientId": client_id,
                                     "refresh_sha256": sha(refresh)})
        with self.lock:
            good = (req.get("grantType") == "refresh_token"
                    and self.clients.get(client_id) == req.get("clientSecret")
                    and self.refresh_tokens.get(refresh) == client_id)
            if not good:
                return 400, {"error": "invalid_grant"}, "InvalidGrantException"
            del self.refresh_tokens[refresh]
            token = "sso-emu-access-" + secrets.token_hex(16)
            new_refresh = "sso-emu-refresh-" + secrets.token_hex(16)
            self.tokens[token] = time.time() + self.ttl
            self.refresh_tokens[new_refresh] = client_id
        return 200, {"accessToken": token, "tokenType": "Bearer", "expiresIn": self.ttl,
                     "refreshToken": new_refresh}, None

    def _handler(self):
        emu = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, doc, error_type):
                reply_json(self, status, doc, error_type)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/federation/credentials":
                    return self._reply(404, {"message": "no such path"}, "NotFound")
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._reply(*emu._role_credentials(urllib.parse.parse_qs(url.query), headers))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if urllib.parse.urlsplit(self.path).path != "/token":
                    return self._reply(404, {"message": "no such path"}, "NotFound")
                self._reply(*emu._create_token(body.decode("utf-8", "replace")))

        return Handler

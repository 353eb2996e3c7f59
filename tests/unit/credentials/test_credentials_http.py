#!/usr/bin/env python3
"""The HTTP credential providers (container, IMDSv2) and the chain's precedence, against a
loopback server this script starts on 127.0.0.1 (port 0) and stops at the end. Each case runs
cred_tool with its own environment; the tool prints the provider, the access key id and
SHA-256 hashes of the secret and token, never the secrets themselves.

usage: test_credentials_http.py PATH/TO/cred_tool
"""
import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402

TOOL = sys.argv[1]


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class State:
    """What the server does; the test flips fields between cases."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.lock = threading.Lock()
        self.requests = []  # (method, path, headers dict)
        self.container_auth = None  # the Authorization value the container endpoint wants
        self.container_status = 200
        self.container_body = None  # raw body override
        self.ttl = 3600
        self.counter = 0
        self.imds_token = "imds-session-token-0123456789"
        self.imds_v2 = True  # False: the token PUT answers 405 (IMDSv1 only)

    def next_creds(self, token_field):
        with self.lock:
            self.counter += 1
            n = self.counter
        return {
            "AccessKeyId": f"ASIAHTTP{n}",
            "SecretAccessKey": f"http-secret-{n}",
            token_field: f"http-token-{n}",
            "Expiration": iso(time.time() + self.ttl),
        }


state = State()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self):
        with state.lock:
            state.requests.append((self.command, self.path, dict(self.headers)))

    def do_PUT(self):
        self.record()
        if self.path != "/latest/api/token":
            return self.reply(404)
        if not state.imds_v2:
            return self.reply(405)
        if self.headers.get("X-aws-ec2-metadata-token-ttl-seconds") != "21600":
            return self.reply(400)
        self.reply(200, state.imds_token.encode(), "text/plain")

    def do_GET(self):
        self.record()
        if self.path.startswith("/latest/"):
            if state.imds_v2 and self.headers.get("X-aws-ec2-metadata-token") != state.imds_token:
                return self.reply(401)
            if self.path == "/latest/meta-data/iam/security-credentials/":
                return self.reply(200, b"ecrup-test-role\n", "text/plain")
            if self.path == "/latest/meta-data/iam/security-credentials/ecrup-test-role":
                body = dict(state.next_creds("Token"), Code="Success", Type="AWS-HMAC")
                return self.reply(200, json.dumps(body).encode())
            return self.reply(404)
        if self.path.startswith("/creds"):
            if state.container_auth is not None and \
                    self.headers.get("Authorization") != state.container_auth:
                return self.reply(401, b'{"message":"bad token"}')
            if state.container_status != 200:
                return self.reply(state.container_status)
            if state.container_body is not None:
                return self.reply(200, state.container_body)
            return self.reply(200, json.dumps(state.next_creds("Token")).encode())
        self.reply(404)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{port}"
tmp = tempfile.TemporaryDirectory()
home = tmp.name
os.makedirs(os.path.join(home, ".aws"))


def run(env_extra, *args):
    """cred_tool with a clean environment: no inherited AWS_* or proxy variables, HOME at the
    temp dir, and IMDS off unless the case points it at the loopback server."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and "proxy" not in k.lower()}
    env["HOME"] = home
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    env.update(env_extra)
    if "AWS_EC2_METADATA_SERVICE_ENDPOINT" in env_extra and \
            "AWS_EC2_METADATA_DISABLED" not in env_extra:
        del env["AWS_EC2_METADATA_DISABLED"]
    p = subprocess.run([TOOL, *args], env=env, capture_output=True, text=True, timeout=60)
    if p.stderr:
        sys.stderr.write(p.stderr)
    fields = {}
    for line in p.stdout.splitlines():
        if line.startswith("error="):
            fields["error"] = line[len("error="):]
        elif "=" in line:
            for kv in line.split():
                k, _, v = kv.partition("=")
                fields.setdefault(k, v)
    return p.returncode, fields, p.stdout


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


CFG = os.path.join(home, ".aws", "config")
CRED = os.path.join(home, ".aws", "credentials")
FULL = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{base}/creds"}
IMDS = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": base}

# --- container, token from the environment ---
state.reset()
state.container_auth = "container-token-env"
rc, f, _ = run(dict(FULL, AWS_CONTAINER_AUTHORIZATION_TOKEN="container-token-env"), "resolve")
check(rc == 0 and f.get("provider") == "container", f"container with env token: {f}")
check(f.get("akid") == "ASIAHTTP1", "container akid")
check(f.get("secret_sha256") == sha("http-secret-1"), "container secret")
check(f.get("token_sha256") == sha("http-token-1"), "container token")
check(abs(int(f.get("expiration", 0)) - (time.time() + 3600)) < 120, "container expiration")
check(state.requests and state.requests[0][2].get("Accept") == "application/json",
      "container Accept header")

# --- the token file wins over the variable (and its trailing newline is trimmed) ---
state.reset()
state.container_auth = "container-token-file"
tokfile = os.path.join(home, "token")
write(tokfile, "container-token-file\n")
rc, f, _ = run(dict(FULL, AWS_CONTAINER_AUTHORIZATION_TOKEN="container-token-env",
                    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tokfile), "resolve")
check(rc == 0 and f.get("provider") == "container", f"container with token file: {f}")

# --- a refused token: HTTP status and host in the message, the token nowhere ---
state.reset()
state.container_auth = "the-right-one"
rc, f, out = run(dict(FULL, AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong-token-value"), "resolve")
check(rc == 1 and "HTTP 401" in f.get("error", "") and "127.0.0.1" in f.get("error", ""),
      f"container 401: {f}")
check("wrong-token-value" not in out and "/creds" not in out, "no token or path in the message")

# --- a missing token file is an error naming the file ---
state.reset()
rc, f, _ = run(dict(FULL, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=os.path.join(home, "nope")),
               "resolve")
check(rc == 1 and "nope" in f.get("error", ""), f"missing token file: {f}")
check(not state.requests, "no request without the token")

# --- FULL_URI to a host that is neither loopback nor the container agent: refused, unsent ---
state.reset()
for url in ("http://example.com/creds", "http://10.1.2.3:8080/creds", "ftp://127.0.0.1/creds"):
    rc, f, _ = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": url}, "resolve")
    err = f.get("error", "")
    check(rc == 1 and ("is not allowed" in err or "scheme" in err), f"disallowed {url}: {f}")
check(not state.requests, "nothing sent to a disallowed host")

# --- localhost is loopback: allowed ---
state.reset()
rc, f, _ = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://localhost:{port}/creds"},
               "resolve")
check(rc == 0 and f.get("provider") == "container", f"localhost allowed: {f}")

# --- server errors: one retry, then the status ---
state.reset()
state.container_status = 500
rc, f, _ = run(FULL, "resolve")
check(rc == 1 and "HTTP 500" in f.get("error", ""), f"container 500: {f}")
check(len(state.requests) == 2, f"one retry after a 5xx ({len(state.requests)} requests)")

# --- a reply that is not credentials ---
state.reset()
state.container_body = b"<html>not json</html>"
rc, f, _ = run(FULL, "resolve")
check(rc == 1 and "not a JSON object" in f.get("error", ""), f"container bad JSON: {f}")
state.reset()
state.container_body = json.dumps({"AccessKeyId": "A", "SecretAccessKey": "S",
                                   "Token": "T", "Expiration": "soon"}).encode()
rc, f, _ = run(FULL, "resolve")
check(rc == 1 and "Expiration" in f.get("error", ""), f"container bad Expiration: {f}")

# --- IMDSv2: token PUT with the TTL header, then role and credentials with the token ---
state.reset()
rc, f, _ = run(IMDS, "resolve")
check(rc == 0 and f.get("provider") == "imds", f"imds: {f}")
check(f.get("akid") == "ASIAHTTP1" and f.get("secret_sha256") == sha("http-secret-1"),
      "imds credentials")
check(f.get("token_sha256") == sha("http-token-1"), "imds session token")
methods = [(m, p) for m, p, _ in state.requests]
check(methods == [("PUT", "/latest/api/token"),
                  ("GET", "/latest/meta-data/iam/security-credentials/"),
                  ("GET", "/latest/meta-data/iam/security-credentials/ecrup-test-role")],
      f"imds request sequence: {methods}")
check(all(h.get("X-aws-ec2-metadata-token") == state.imds_token
          for m, _, h in state.requests if m == "GET"), "imds token on every GET")

# --- IMDSv1 fallback when the token PUT is not supported (405) ---
state.reset()
state.imds_v2 = False
rc, f, _ = run(IMDS, "resolve")
check(rc == 0 and f.get("provider") == "imds", f"imds v1 fallback: {f}")
check(all("X-aws-ec2-metadata-token" not in h for m, _, h in state.requests if m == "GET"),
      "no token header on v1")

# --- AWS_EC2_METADATA_DISABLED: IMDS is never asked ---
state.reset()
rc, f, _ = run(dict(IMDS, AWS_EC2_METADATA_DISABLED="TRUE"), "resolve")
check(rc == 1 and "no credentials found" in f.get("error", ""), f"imds disabled: {f}")
check("AWS_EC2_METADATA_DISABLED" in f.get("error", ""), "the message lists what was tried")
check(not state.requests, "disabled IMDS gets no request")

# --- nothing listening: IMDS fails fast and the message lists what was tried ---
dead = http.server.HTTPServer(("127.0.0.1", 0), Handler)
dead_port = dead.server_address[1]
dead.server_close()
rc, f, _ = run({"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{dead_port}"},
               "resolve")
check(rc == 1 and "no credentials found" in f.get("error", "") and "IMDS" in f.get("error", ""),
      f"no IMDS: {f}")

# --- precedence: env > profile > process > container > imds (explicit: test_credentials) ---
state.reset()
write(CRED, "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = sp\n")
write(CFG, "[profile proc]\ncredential_process = printf '{\"Version\":1,"
      "\"AccessKeyId\":\"AKIDPROCESS\",\"SecretAccessKey\":\"sq\"}'\n")
everything = dict(FULL, **IMDS, AWS_ACCESS_KEY_ID="AKIDENV", AWS_SECRET_ACCESS_KEY="se")
rc, f, _ = run(everything, "resolve")
check(f.get("provider") == "env" and f.get("akid") == "AKIDENV", f"env first: {f}")
del everything["AWS_ACCESS_KEY_ID"], everything["AWS_SECRET_ACCESS_KEY"]
rc, f, _ = run(everything, "resolve")
check(f.get("provider") == "profile" and f.get("akid") == "AKIDPROFILE", f"profile next: {f}")
rc, f, _ = run(dict(everything, AWS_PROFILE="proc"), "resolve")
check(f.get("provider") == "process" and f.get("akid") == "AKIDPROCESS", f"process next: {f}")
os.unlink(CRED)
os.unlink(CFG)
check(not state.requests, "no HTTP while a file or the environment answers")
rc, f, _ = run(everything, "resolve")
check(f.get("provider") == "container", f"container before imds: {f}")
check(all(not p.startswith("/latest") for _, p, _ in state.requests), "imds not asked")
del everything["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
rc, f, _ = run(everything, "resolve")
check(f.get("provider") == "imds", f"imds last: {f}")

# --- expiry-driven refresh through the cache: 3 s credentials, a new key each time ---
# (The expiration is stamped in whole seconds: 2 s credentials fell inside cred_tool's 1 s
# window whenever the second get came in the next wall-clock second.)
state.reset()
state.ttl = 3
rc, f, out = run(FULL, "refresh")
lines = out.splitlines()
check(rc == 0 and len(lines) == 3, f"refresh run: {out!r}")
if len(lines) == 3:
    first = dict(kv.split("=", 1) for kv in lines[0].split())
    last = dict(kv.split("=", 1) for kv in lines[2].split())
    check(lines[1] == "second get reused", "fresh credentials are reused")
    check(first["akid"] != last["akid"], "expired credentials were replaced")
    n = int(last["akid"][len("ASIAHTTP"):])
    check(last["secret_sha256"] == sha(f"http-secret-{n}"), "the new secret matches its key")

server.shutdown()
server.server_close()
tmp.cleanup()
sys.exit(finish("test_credentials_http"))

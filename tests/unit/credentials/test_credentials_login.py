#!/usr/bin/env python3
"""The login credential provider (signer/cred_login.c, signer/login_cache.c, signer/dpop.c)
against the loopback sign-in service of tests/support/signin_emulator.py
(AWS_ENDPOINT_URL_SIGNIN), which verifies every DPoP proof with the public key the refresh
token is bound to. A valid cached pair is answered without a call; one with 5 minutes or less
left is refreshed (the cache file rewritten 0600, atomically, with the new refresh token and
every key ecrup does not know kept); the refusals: an expired session (TOKEN_EXPIRED,
USER_CREDENTIALS_CHANGED), throttling and 5xx retried then reported, malformed cache files
named with the field, a missing file with the `aws login` command, a DPoP key that is not the
bound one. The emulator's verifier is itself shown to fail on a tampered proof. cred_tool
prints secrets only as SHA-256; no token, key or secret may appear in any output.

botocore cannot be the oracle here: its login provider needs awscrt, which is not installed.
The emulator checks the proof against botocore's _build_dpop_header format instead.

usage: test_credentials_login.py PATH/TO/cred_tool
"""
import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402
from signin_emulator import SigninEmulator, make_key, sha, unb64url  # noqa: E402

TOOL = sys.argv[1]
home = tempfile.mkdtemp(prefix="ecrup-login-home-")
cache_dir = os.path.join(home, ".aws", "login", "cache")
os.makedirs(cache_dir)
config = os.path.join(home, "config")
emu = SigninEmulator()
secrets_seen = []  # every token, key and secret: none may appear in any output
SESSION = "arn:aws:iam::111122223333:user/dev"  # what `aws login` writes: the user's ARN
with open(config, "w") as f:
    f.write(f"""[profile dev]
login_session = {SESSION}
region = us-east-1

[profile other]
login_session = other-session
region = eu-west-1

[profile keys]
aws_access_key_id = AKIASTATICKEY0000001
aws_secret_access_key = static-secret

[profile nothing]
region = us-east-1
""")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def cache_path(session, directory=cache_dir):
    return os.path.join(directory, hashlib.sha256(session.encode()).hexdigest() + ".json")


def new_session(session, expires_in, client_id="arn:aws:signin:::devtools/same-device",
                bind=True, directory=cache_dir, **extra):
    """A cache file as `aws login` leaves it, with a fresh key; returns (doc, jwk)."""
    pem, jwk = make_key()
    refresh = "login-refresh-" + os.urandom(12).hex()
    pair = {"accessKeyId": "ASIACACHED" + os.urandom(5).hex().upper(),
            "secretAccessKey": "cached-secret-" + os.urandom(10).hex(),
            "sessionToken": "cached-session-" + os.urandom(20).hex()}
    doc = {"accessToken": dict(pair, accountId="111122223333",
                               expiresAt=iso(time.time() + expires_in)),
           "tokenType": "aws_sigv4", "refreshToken": refresh,
           "identityToken": "id-token-" + os.urandom(8).hex(), "clientId": client_id,
           "dpopKey": pem}
    doc.update(extra)
    write_cache(session, doc, directory)
    if bind:
        emu.add_session(client_id, refresh, jwk)
    return doc, jwk


def write_cache(session, doc, directory=cache_dir):
    with open(cache_path(session, directory), "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    if isinstance(doc, dict):
        a = doc.get("accessToken", {})
        secrets_seen.extend([a.get("secretAccessKey", ""), a.get("sessionToken", ""),
                             doc.get("refreshToken", ""), doc.get("identityToken", "")])
        key = doc.get("dpopKey", "")
        secrets_seen.extend(line for line in key.splitlines() if line and "-----" not in line)


def env(**over):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("AWS_") and "proxy" not in k.lower()}
    e.update(HOME=home, AWS_CONFIG_FILE=config,
             AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"),
             AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL_SIGNIN=emu.url)
    e.update(over)
    return {k: v for k, v in e.items() if v is not None}


outputs = []


def resolve(profile, **over):
    p = subprocess.run([TOOL, "resolve", profile], env=env(**over), capture_output=True,
                       text=True, timeout=60)
    outputs.append(p.stdout + p.stderr)
    fields = {}
    for line in p.stdout.splitlines():
        if line.startswith("error="):
            fields["error"] = line[len("error="):]
        else:
            for kv in line.split():
                k, _, v = kv.partition("=")
                fields.setdefault(k, v)
    return p.returncode, fields


def read(path):
    with open(path) as f:
        return f.read()


CREDENTIALS, CONFIG = "6", "7"


def last_issued():
    return dict(emu.issued[-1]) if emu.issued else {}


def remember_issued():
    pair = last_issued()
    secrets_seen.extend([pair.get("secretAccessKey", ""), pair.get("sessionToken", "")])


# ---- a valid cached pair: answered, no call ----
doc, jwk = new_session(SESSION, 3600)
rc, got = resolve("dev")
a = doc["accessToken"]
check(rc == 0 and got.get("provider") == "login", f"valid cache: resolved by login: {got}")
check(got.get("akid") == a["accessKeyId"] and
      got.get("secret_sha256") == sha(a["secretAccessKey"]) and
      got.get("token_sha256") == sha(a["sessionToken"]), "valid cache: the cached pair")
check(abs(int(got.get("expiration", "0")) - (time.time() + 3600)) < 60,
      "valid cache: expiration from accessToken.expiresAt")
check(emu.calls_made() == [], f"valid cache: no call to the sign-in service: {emu.calls_made()}")

# The directory can be moved with AWS_LOGIN_CACHE_DIRECTORY ("~" is the home directory).
moved = os.path.join(home, "elsewhere")
os.makedirs(moved)
doc2, _ = new_session("other-session", 3600, directory=moved)
rc, got = resolve("other", AWS_LOGIN_CACHE_DIRECTORY="~/elsewhere")
check(rc == 0 and got.get("akid") == doc2["accessToken"]["accessKeyId"],
      f"AWS_LOGIN_CACHE_DIRECTORY: the file there is read: {got}")
rc, got = resolve("other")
check(rc != 0 and cache_path("other-session") in got.get("error", ""),
      f"without AWS_LOGIN_CACHE_DIRECTORY: ~/.aws/login/cache is looked in: {got}")

# ---- near expiry: refreshed ----
doc, jwk = new_session(SESSION, 240, futureField={"kept": [1, 2, 3]})
os.chmod(cache_path(SESSION), 0o644)
before = len(emu.calls_made())
rc, got = resolve("dev")
calls = emu.calls_made()[before:]
check(len(calls) == 1, f"refresh: one CreateOAuth2Token: {calls}")
c = calls[0] if calls else {}
check(c.get("dpop") == "ok", f"refresh: the DPoP proof verifies with the bound key: {c}")
check(c.get("grantType") == "refresh_token" and c.get("clientId") == doc["clientId"] and
      c.get("refresh_sha256") == sha(doc["refreshToken"]) and
      c.get("body_keys") == ["clientId", "grantType", "refreshToken"] and
      c.get("content_type") == "application/json",
      f"refresh: the model's tokenInput body, JSON: {c}")
pair = last_issued()
secrets_seen.extend([pair.get("secretAccessKey", ""), pair.get("sessionToken", "")])
check(rc == 0 and got.get("provider") == "login" and got.get("akid") == pair.get("accessKeyId")
      and got.get("secret_sha256") == sha(pair.get("secretAccessKey", "")) and
      got.get("token_sha256") == sha(pair.get("sessionToken", "")),
      f"refresh: the new pair is answered: {got}")
check(abs(int(got.get("expiration", "0")) - (time.time() + emu.ttl)) < 60,
      "refresh: expiration from expiresIn")
st = os.stat(cache_path(SESSION))
check(stat.S_IMODE(st.st_mode) == 0o600, "refresh: the cache file is 0600 now")
new = json.loads(read(cache_path(SESSION)))
secrets_seen.append(new.get("refreshToken", ""))
na = new.get("accessToken", {})
check(na.get("accessKeyId") == pair.get("accessKeyId") and
      na.get("secretAccessKey") == pair.get("secretAccessKey") and
      na.get("sessionToken") == pair.get("sessionToken") and
      na.get("accountId") == "111122223333", "refresh: the new pair and the accountId written")
check(new.get("refreshToken") not in (None, doc["refreshToken"]),
      "refresh: the new refresh token written")
check(new.get("futureField") == {"kept": [1, 2, 3]} and
      new.get("identityToken") == doc["identityToken"] and
      new.get("tokenType") == doc["tokenType"] and new.get("dpopKey") == doc["dpopKey"] and
      new.get("clientId") == doc["clientId"], "refresh: every other key kept")
check(list(new) == list(doc), f"refresh: the keys in their order: {list(new)}")
exp = na.get("expiresAt", "")
check(len(exp) == 20 and exp.endswith("Z") and
      abs(time.mktime(time.strptime(exp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone -
          (time.time() + emu.ttl)) < 60, f"refresh: expiresAt as botocore writes it: {exp}")
leftovers = [n for n in os.listdir(cache_dir) if not n.endswith(".json")]
check(not leftovers, f"refresh: no temporary file left: {leftovers}")
# The refreshed file is what the next run uses: no call while the new pair is fresh.
before = len(emu.calls_made())
rc, got2 = resolve("dev")
check(rc == 0 and got2.get("akid") == pair.get("accessKeyId") and
      len(emu.calls_made()) == before, f"after the refresh: the new pair, no call: {got2}")

# Expired, and the refresh token still good: refreshed too (the second refresh token works).
doc = json.loads(read(cache_path(SESSION)))
doc["accessToken"]["expiresAt"] = iso(time.time() - 3600)
write_cache(SESSION, doc)
rc, got = resolve("dev")
check(rc == 0 and got.get("akid") == last_issued().get("accessKeyId"),
      f"expired pair, good refresh token: refreshed with the rotated token: {got}")
remember_issued()
secrets_seen.append(json.loads(read(cache_path(SESSION))).get("refreshToken", ""))

# AWS_ENDPOINT_URL when AWS_ENDPOINT_URL_SIGNIN is unset; its trailing slash is not in htu.
doc, jwk = new_session(SESSION, 60)
before = len(emu.calls_made())
rc, got = resolve("dev", AWS_ENDPOINT_URL_SIGNIN=None, AWS_ENDPOINT_URL=emu.url + "/")
calls = emu.calls_made()[before:]
check(rc == 0 and len(calls) == 1 and calls[0]["dpop"] == "ok" and
      got.get("akid") == last_issued().get("accessKeyId"),
      f"AWS_ENDPOINT_URL: the sign-in call goes there, htu without the slash: {got} {calls}")
remember_issued()
secrets_seen.append(json.loads(read(cache_path(SESSION))).get("refreshToken", ""))

# Throttled, then answered: retried.
doc, jwk = new_session(SESSION, 60)
emu.failures = ["throttle", "500"]
before = len(emu.calls_made())
rc, got = resolve("dev")
calls = emu.calls_made()[before:]
check(rc == 0 and got.get("provider") == "login" and len(calls) == 3,
      f"throttled, 500, then answered: three calls: {got} {len(calls)}")
check(len({c["dpop"] for c in calls}) == 1 and calls[-1]["dpop"] == "ok",
      "retries: each attempt's proof verifies (a fresh jti each time)")
remember_issued()
secrets_seen.append(json.loads(read(cache_path(SESSION))).get("refreshToken", ""))

doc, jwk = new_session(SESSION, 60)
text_before = read(cache_path(SESSION))
emu.failures = ["500"] * 10
before = len(emu.calls_made())
rc, got = resolve("dev")
n = len(emu.calls_made()) - before
emu.failures = []
check(rc != 0 and "HTTP 500" in got.get("error", "") and "CreateOAuth2Token" in
      got.get("error", "") and 2 <= n <= 5, f"always 500: bounded tries ({n}), reported: {got}")
check(read(cache_path(SESSION)) == text_before, "failed refresh: the cache file is unchanged")

# ---- the session is over ----
emu.failures = ["expired"]
rc, got = resolve("dev")
want = f'the login session "{SESSION}" has expired: run `aws login --profile dev`'
check(rc != 0 and want in got.get("error", "") and got.get("status") == CREDENTIALS,
      f"TOKEN_EXPIRED: the session and the command: {got}")
check(read(cache_path(SESSION)) == text_before, "TOKEN_EXPIRED: the cache file is unchanged")
emu.failures = ["changed"]
rc, got = resolve("dev")
check(rc != 0 and "aws login --profile dev" in got.get("error", "") and
      "credentials changed" in got.get("error", ""), f"USER_CREDENTIALS_CHANGED: {got}")
emu.failures = ["denied"]
rc, got = resolve("dev")
check(rc != 0 and "signin:CreateOAuth2Token" in got.get("error", ""),
      f"INSUFFICIENT_PERMISSIONS: the permission named: {got}")
emu.failures = []

# ---- a key that is not the bound one: the service refuses the proof ----
doc, jwk = new_session(SESSION, 60)
other_pem, _ = make_key("pkcs8")  # a valid key (PKCS#8 this time), but not the bound one
doc["dpopKey"] = other_pem
write_cache(SESSION, doc)
before = len(emu.calls_made())
rc, got = resolve("dev")
calls = emu.calls_made()[before:]
check(len(calls) == 1 and calls[0]["dpop"] == "jwk is not the key the refresh token is bound to",
      f"tampered key: the emulator's verification fails: {calls}")
check(rc != 0 and "HTTP 400" in got.get("error", ""), f"tampered key: refused: {got}")

# The verifier itself: a proof ecrup made verifies; flipped bits in its signature or claims,
# or another key's jwk, do not.
good = {}


def capture(body, headers):
    good["proof"] = headers.get("dpop")
    return original(body, headers)


original = emu._create_token
emu._create_token = capture
doc, jwk = new_session(SESSION, 60)
resolve("dev")
emu._create_token = original
proof = good.get("proof") or ""
secrets_seen.append(proof)
remember_issued()
h, p, s = (proof.split(".") + ["", "", ""])[:3]
emu.jtis.clear()
check(emu.verify_dpop(proof, jwk) is None, "verifier: ecrup's proof verifies")
emu.jtis.clear()
sig = bytearray(unb64url(s) if s else b"\0" * 64)
sig[10] ^= 1
tampered_sig = base64.urlsafe_b64encode(bytes(sig)).rstrip(b"=").decode()
check(emu.verify_dpop(f"{h}.{p}.{tampered_sig}", jwk) == "bad signature",
      "verifier: a flipped signature bit fails")
claims = json.loads(unb64url(p)) if p else {}
claims["htu"] = "http://127.0.0.1:1/v1/token"
p2 = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(
    b"=").decode()
check(emu.verify_dpop(f"{h}.{p2}.{s}", jwk) is not None, "verifier: a changed htu fails")
_, other_jwk = make_key()
check(emu.verify_dpop(proof, other_jwk) is not None, "verifier: another bound key fails")
check(emu.verify_dpop(proof, jwk, now=time.time() + 3600) == "iat not fresh",
      "verifier: a stale iat fails")

# ---- malformed and missing cache files: named, never quoted ----
write_cache(SESSION, '{"accessToken": {"accessKeyId": "ASIAX", ')
rc, got = resolve("dev")
check(rc != 0 and cache_path(SESSION) in got.get("error", "") and got.get("status") == CONFIG,
      f"bad JSON: the file named, ECRUP_E_CONFIG: {got}")
doc, jwk = new_session(SESSION, 3600)
del doc["accessToken"]["sessionToken"]
write_cache(SESSION, doc)
rc, got = resolve("dev")
check(rc != 0 and cache_path(SESSION) in got.get("error", "") and
      "accessToken.sessionToken" in got.get("error", "") and got.get("status") == CONFIG,
      f"missing field: the file and the field: {got}")
doc, jwk = new_session(SESSION, 3600)
del doc["dpopKey"]
write_cache(SESSION, doc)
rc, got = resolve("dev")
check(rc != 0 and "dpopKey" in got.get("error", ""), f"no dpopKey: named: {got}")
doc, jwk = new_session(SESSION, 60)
doc["dpopKey"] = "-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n" \
                 "-----END EC PRIVATE KEY-----\n"
write_cache(SESSION, doc)
before = len(emu.calls_made())
rc, got = resolve("dev")
check(rc != 0 and cache_path(SESSION) in got.get("error", "") and
      "dpopKey is not an EC P-256 private key" in got.get("error", "") and
      len(emu.calls_made()) == before, f"bad dpopKey: named, no call: {got}")
doc["accessToken"]["expiresAt"] = "yesterday"
write_cache(SESSION, doc)
rc, got = resolve("dev")
check(rc != 0 and "accessToken.expiresAt" in got.get("error", ""), f"bad expiresAt: {got}")

os.unlink(cache_path(SESSION))
rc, got = resolve("dev")
check(rc != 0 and f'no login session "{SESSION}" is cached' in got.get("error", "") and
      "run `aws login --profile dev`" in got.get("error", "") and
      got.get("status") == CREDENTIALS, f"no cache file: the login command: {got}")

# ---- profiles without login_session: not this provider's ----
rc, got = resolve("keys")
check(rc == 0 and got.get("provider") == "profile", f"static keys: the profile provider: {got}")
rc, got = resolve("nothing")
check(rc != 0 and 'login: profile "nothing" has no login_session' in got.get("error", ""),
      f"no login_session: skipped with a note: {got}")

# No token, key, proof or secret in anything printed.
everything = "\n".join(outputs)
leaked = [x for x in secrets_seen if x and len(x) > 8 and x in everything]
check(len(secrets_seen) > 40 and "ASIA" in everything, "the leak check has secrets and output")
check(not leaked, f"no secret in any output ({len(leaked)} found)")

emu.stop()
shutil.rmtree(home, ignore_errors=True)
sys.exit(finish("test_credentials_login"))

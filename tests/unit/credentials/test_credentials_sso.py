#!/usr/bin/env python3
"""The SSO credential provider (signer/cred_sso.c) against the loopback IAM Identity Center of
tests/support/sso_emulator.py, and against botocore resolving the same profiles through the
same emulator (AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL_SSO_OIDC, the same HOME): the same key
pair and the same portal call. Then the token refresh through SSO OIDC (the cache file
rewritten 0600 with the new token, which is the one used), a failed refresh falling back to
the still-valid token, retries of throttling, and the refusals: an expired or missing login,
a malformed cache file, a missing key. Last, the endpoints from the profile's services section
instead of the environment, against botocore too. cred_tool prints secrets only as SHA-256; no
token may appear in any output.

usage: test_credentials_sso.py PATH/TO/cred_tool
"""
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
from sso_emulator import SsoEmulator, sha  # noqa: E402

TOOL = sys.argv[1]
home = tempfile.mkdtemp(prefix="ecrup-sso-home-")
cache_dir = os.path.join(home, ".aws", "sso", "cache")
os.makedirs(cache_dir)
config = os.path.join(home, "config")
emu = SsoEmulator()
secrets_seen = []  # every token and secret: none may appear in any output

START = "https://corp.awsapps.com/start"
LEGACY_START = "https://legacy.awsapps.com/start#/"
ROLE = "ECRPush+ci@example.com"  # '+' and '@' must arrive URL-encoded intact
with open(config, "w") as f:
    f.write(f"""[profile corp-dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = {ROLE}
region = us-east-1

[sso-session corp]
sso_start_url = {START}
sso_region = eu-west-1

[profile legacy]
sso_start_url = {LEGACY_START}
sso_region = us-west-2
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile refresh]
sso_session = refreshing
sso_account_id = 111122223333
sso_role_name = {ROLE}

[sso-session refreshing]
sso_start_url = https://refresh.awsapps.com/start
sso_region = eu-west-1

[profile no-role]
sso_session = corp
sso_account_id = 111122223333

[profile ghost-session]
sso_session = nowhere
sso_account_id = 111122223333
sso_role_name = {ROLE}

[profile half-session]
sso_session = half
sso_region = eu-west-1
sso_account_id = 111122223333
sso_role_name = {ROLE}

[sso-session half]
sso_start_url = {START}

[profile mismatch]
sso_session = corp
sso_region = us-east-2
sso_account_id = 111122223333
sso_role_name = {ROLE}

[profile svc]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = {ROLE}
services = emu
endpoint_url = http://127.0.0.1:9

[profile svc-refresh]
sso_session = refreshing
sso_account_id = 111122223333
sso_role_name = {ROLE}
services = emu

[services emu]
sso =
  endpoint_url = {emu.url}/
sso_oidc =
  endpoint_url = {emu.url}

[profile svc-lost]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = {ROLE}
services = missing
""")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def cache_path(key):
    return os.path.join(cache_dir, hashlib.sha1(key.encode()).hexdigest() + ".json")


def write_cache(key, doc):
    with open(cache_path(key), "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    for field in ("accessToken", "refreshToken", "clientSecret"):
        if isinstance(doc, dict) and doc.get(field):
            secrets_seen.append(doc[field])


endpoint_env = {"AWS_ENDPOINT_URL_SSO": emu.url, "AWS_ENDPOINT_URL_SSO_OIDC": emu.url}


def env():
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("AWS_") and "proxy" not in k.lower()}
    e.update(HOME=home, AWS_CONFIG_FILE=config,
             AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"),
             AWS_EC2_METADATA_DISABLED="true", **endpoint_env)
    return e


outputs = []


def resolve(profile):
    p = subprocess.run([TOOL, "resolve", profile], env=env(), capture_output=True, text=True,
                       timeout=60)
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


BOTOCORE = r"""
import hashlib, json, sys
import botocore.session
c = botocore.session.Session(profile=sys.argv[1]).get_credentials().get_frozen_credentials()
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
print(json.dumps({"akid": c.access_key, "secret_sha256": h(c.secret_key),
                  "token_sha256": h(c.token)}))
"""


def botocore_resolve(profile):
    """botocore in its own process: it reads HOME for the token cache when imported."""
    p = subprocess.run([sys.executable, "-c", BOTOCORE, profile], env=env(),
                       capture_output=True, text=True, timeout=120)
    outputs.append(p.stdout)
    if p.returncode != 0:
        print(p.stderr[-2000:])
        return None
    return json.loads(p.stdout)


def compare_with_botocore(profile, account, role, token):
    pair = emu.grant(account, role)
    secrets_seen.extend([pair["secretAccessKey"], pair["sessionToken"]])
    before = len(emu.calls_of("GetRoleCredentials"))
    rc, got = resolve(profile)
    check(rc == 0 and got.get("provider") == "sso", f"{profile}: resolved by sso: {got}")
    check(got.get("akid") == pair["accessKeyId"], f"{profile}: the emulator's key id")
    check(got.get("secret_sha256") == sha(pair["secretAccessKey"]), f"{profile}: its secret")
    check(got.get("token_sha256") == sha(pair["sessionToken"]), f"{profile}: its session token")
    exp = int(got.get("expiration", "0"))
    check(abs(exp - (time.time() + emu.ttl)) < 120, f"{profile}: expiration from epoch ms {exp}")
    calls = emu.calls_of("GetRoleCredentials")[before:]
    check(len(calls) == 1 and calls[0] == {"role_name": role, "account_id": account,
                                           "token_sha256": sha(token)},
          f"{profile}: one GetRoleCredentials with the cached token: {calls}")
    theirs = botocore_resolve(profile)
    check(theirs is not None and theirs == {k: got.get(k) for k in
                                            ("akid", "secret_sha256", "token_sha256")},
          f"{profile}: botocore resolves the same pair: {theirs}")
    bcalls = emu.calls_of("GetRoleCredentials")[before + 1:]
    check(bcalls == calls, f"{profile}: botocore made the same portal call: {bcalls}")


# ---- (a) both forms, against botocore ----
corp_token = "corp-access-token-" + "x" * 40
emu.add_token(corp_token)
write_cache("corp", {"startUrl": START, "region": "eu-west-1", "accessToken": corp_token,
                     "expiresAt": iso(time.time() + 3600)})
compare_with_botocore("corp-dev", "111122223333", ROLE, corp_token)

legacy_token = "legacy-access-token-" + "y" * 40
emu.add_token(legacy_token)
write_cache(LEGACY_START, {"startUrl": LEGACY_START, "region": "us-west-2",
                           "accessToken": legacy_token,
                           "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SUTC",
                                                      time.gmtime(time.time() + 3600))})
compare_with_botocore("legacy", "444455556666", "ReadOnly", legacy_token)

# Throttling and a 5xx are retried, bounded.
emu.portal_failures = [429, 503]
before = len(emu.calls_of("GetRoleCredentials"))
rc, got = resolve("corp-dev")
check(rc == 0 and got.get("provider") == "sso", f"throttled then answered: {got}")
check(len(emu.calls_of("GetRoleCredentials")) - before == 3, "two retries, then the answer")
emu.portal_failures = [429] * 20
before = len(emu.calls_of("GetRoleCredentials"))
rc, got = resolve("corp-dev")
n = len(emu.calls_of("GetRoleCredentials")) - before
check(rc != 0 and "HTTP 429" in got.get("error", "") and 2 <= n <= 10,
      f"always throttled: a bounded number of tries ({n}): {got}")
emu.portal_failures = []

# ---- (c) refresh: 5 minutes left, the registration valid ----
old_token = "refresh-old-access-" + "z" * 30
emu.add_token(old_token)  # still valid: if ecrup used it, the call would succeed
emu.register_client("client-1", "client-secret-1", "refresh-token-1")
secrets_seen.extend(["client-secret-1", "refresh-token-1"])
refresh_doc = {"accessToken": old_token, "expiresAt": iso(time.time() + 300),
               "clientId": "client-1", "clientSecret": "client-secret-1",
               "registrationExpiresAt": iso(time.time() + 86400 * 30),
               "refreshToken": "refresh-token-1"}
write_cache("refreshing", refresh_doc)
os.chmod(cache_path("refreshing"), 0o644)
emu.grant("111122223333", ROLE)
before_g, before_t = len(emu.calls_of("GetRoleCredentials")), len(emu.calls_of("CreateToken"))
rc, got = resolve("refresh")
check(rc == 0 and got.get("provider") == "sso", f"refresh: resolved: {got}")
ct = emu.calls_of("CreateToken")[before_t:]
check(ct == [{"grantType": "refresh_token", "clientId": "client-1",
              "refresh_sha256": sha("refresh-token-1")}], f"refresh: one CreateToken: {ct}")
st = os.stat(cache_path("refreshing"))
check(stat.S_IMODE(st.st_mode) == 0o600, "refresh: the cache file is 0600 now")
try:
    with open(cache_path("refreshing")) as f:
        new = json.load(f)
except ValueError:
    new = {}
check(new.get("accessToken", old_token) != old_token, "refresh: a new token in the cache file")
secrets_seen.extend([new.get("accessToken", ""), new.get("refreshToken", "")])
check(new.get("refreshToken") not in (None, "refresh-token-1"), "refresh: the new refresh token")
check(new.get("startUrl") == "https://refresh.awsapps.com/start" and
      new.get("region") == "eu-west-1", "refresh: the configured start URL and region written")
check(new.get("clientId") == "client-1" and new.get("clientSecret") == "client-secret-1" and
      new.get("registrationExpiresAt") == refresh_doc["registrationExpiresAt"],
      "refresh: the registration is kept")
exp = new.get("expiresAt", "")
check(exp.endswith("Z") and abs(time.mktime(time.strptime(exp, "%Y-%m-%dT%H:%M:%SZ")) -
                                time.timezone - (time.time() + emu.ttl)) < 120,
      f"refresh: expiresAt from expiresIn: {exp}")
g = emu.calls_of("GetRoleCredentials")[before_g:]
check(len(g) == 1 and g[0]["token_sha256"] == sha(new.get("accessToken", "")),
      f"refresh: GetRoleCredentials used the new token, not the old: {g}")
leftovers = [n for n in os.listdir(cache_dir) if not n.endswith(".json")]
check(not leftovers, f"refresh: no temporary file left: {leftovers}")

# botocore refreshing the same kind of file: the same CreateToken, and the file it writes has
# the keys ecrup wrote, in the same order.
emu.register_client("client-b", "client-secret-b", "refresh-token-b")
write_cache("refreshing", dict(refresh_doc, clientId="client-b", clientSecret="client-secret-b",
                               refreshToken="refresh-token-b"))
before_g, before_t = len(emu.calls_of("GetRoleCredentials")), len(emu.calls_of("CreateToken"))
theirs = botocore_resolve("refresh")
check(theirs is not None and theirs.get("akid") == got.get("akid"), "botocore refresh: same pair")
ct = emu.calls_of("CreateToken")[before_t:]
check(ct == [{"grantType": "refresh_token", "clientId": "client-b",
              "refresh_sha256": sha("refresh-token-b")}], f"botocore refresh: CreateToken: {ct}")
with open(cache_path("refreshing")) as f:
    boto_file = json.load(f)
secrets_seen.extend([boto_file.get("accessToken", ""), boto_file.get("refreshToken", "")])
check(list(boto_file) == list(new), f"botocore writes the keys ecrup writes: {list(boto_file)}")
check(len(boto_file.get("expiresAt", "")) == len(new.get("expiresAt", "")) == 20,
      "botocore and ecrup write expiresAt alike")

# A failed refresh while the old token still has 5 minutes: the old token is used, the cache
# file is left alone.
emu.register_client("client-2", "client-secret-2", "unused")
refresh_doc.update(clientId="client-2", clientSecret="wrong-secret",
                   refreshToken="refresh-token-2", accessToken=old_token)
write_cache("refreshing", refresh_doc)
with open(cache_path("refreshing")) as f:
    text_before = f.read()
before_g, before_t = len(emu.calls_of("GetRoleCredentials")), len(emu.calls_of("CreateToken"))
rc, got = resolve("refresh")
check(rc == 0, f"failed refresh, old token valid: resolved: {got}")
check(len(emu.calls_of("CreateToken")) - before_t == 1, "failed refresh: it was tried")
g = emu.calls_of("GetRoleCredentials")[before_g:]
check(len(g) == 1 and g[0]["token_sha256"] == sha(old_token), "failed refresh: the old token")
with open(cache_path("refreshing")) as f:
    check(f.read() == text_before, "failed refresh: the cache file is unchanged")

# An expired token with a working refresh: refreshed and used (botocore does the same).
emu.register_client("client-3", "client-secret-3", "refresh-token-3")
refresh_doc.update(clientId="client-3", clientSecret="client-secret-3",
                   refreshToken="refresh-token-3", expiresAt=iso(time.time() - 60))
write_cache("refreshing", refresh_doc)
rc, got = resolve("refresh")
check(rc == 0 and got.get("provider") == "sso", f"expired but refreshable: resolved: {got}")

# The registration expired: no refresh is tried; an expired token is then refused.
refresh_doc.update(registrationExpiresAt=iso(time.time() - 60), refreshToken="refresh-token-x")
write_cache("refreshing", refresh_doc)
before_t = len(emu.calls_of("CreateToken"))
rc, got = resolve("refresh")
check(rc != 0 and 'run aws sso login --sso-session refreshing' in got.get("error", ""),
      f"registration expired: refused: {got}")
check(len(emu.calls_of("CreateToken")) == before_t, "registration expired: no CreateToken")

# Legacy tokens are never refreshed.
legacy_doc = {"accessToken": legacy_token, "expiresAt": iso(time.time() + 300),
              "clientId": "client-1", "clientSecret": "client-secret-1",
              "registrationExpiresAt": iso(time.time() + 86400), "refreshToken": "refresh-l"}
write_cache(LEGACY_START, legacy_doc)
before_t = len(emu.calls_of("CreateToken"))
rc, got = resolve("legacy")
check(rc == 0 and len(emu.calls_of("CreateToken")) == before_t,
      f"legacy, 5 minutes left: used as is, no refresh: {got}")

# ---- (d) refusals ----
CREDENTIALS, CONFIG = "6", "7"
write_cache("corp", {"accessToken": corp_token, "expiresAt": iso(time.time() - 1)})
before = len(emu.calls_of("GetRoleCredentials"))
rc, got = resolve("corp-dev")
check(rc != 0 and got.get("error", "").find(
    'the SSO session "corp" has expired or was never started: run aws sso login '
    '--sso-session corp') >= 0, f"expired token: the session and the command: {got}")
check(got.get("status") == CREDENTIALS, f"expired token: ECRUP_E_CREDENTIALS: {got}")
check(len(emu.calls_of("GetRoleCredentials")) == before, "expired token: no portal call")

os.unlink(cache_path("corp"))
rc, got = resolve("corp-dev")
check(rc != 0 and "aws sso login --sso-session corp" in got.get("error", ""),
      f"no cache file: the login command: {got}")

write_cache(LEGACY_START, {"accessToken": legacy_token, "expiresAt": iso(time.time() - 1)})
rc, got = resolve("legacy")
check(rc != 0 and 'profile "legacy"' in got.get("error", "") and
      "aws sso login --profile legacy" in got.get("error", ""),
      f"legacy expired: the profile and the command: {got}")

# A token the portal no longer accepts (401): the same advice.
write_cache("corp", {"accessToken": "revoked-token-" + "r" * 20,
                     "expiresAt": iso(time.time() + 3600)})
rc, got = resolve("corp-dev")
check(rc != 0 and "aws sso login --sso-session corp" in got.get("error", ""),
      f"portal 401: the login command: {got}")

write_cache("corp", '{"accessToken": "' + corp_token + '", "expiresAt": ')
rc, got = resolve("corp-dev")
check(rc != 0 and cache_path("corp") in got.get("error", "") and
      got.get("status") == CONFIG, f"malformed cache file: named, ECRUP_E_CONFIG: {got}")
write_cache("corp", {"expiresAt": iso(time.time() + 3600)})
rc, got = resolve("corp-dev")
check(rc != 0 and cache_path("corp") in got.get("error", "") and
      "accessToken" in got.get("error", ""), f"cache file without accessToken: {got}")

rc, got = resolve("no-role")
check(rc != 0 and 'profile "no-role"' in got.get("error", "") and
      "sso_role_name" in got.get("error", "") and got.get("status") == CONFIG,
      f"missing sso_role_name: the profile and the key, ECRUP_E_CONFIG: {got}")
rc, got = resolve("ghost-session")
check(rc != 0 and "nowhere" in got.get("error", "") and got.get("status") == CONFIG,
      f"sso_session without its section: {got}")
rc, got = resolve("mismatch")
check(rc != 0 and "sso_region" in got.get("error", "") and got.get("status") == CONFIG,
      f"profile and sso-session disagree: {got}")

rc, got = resolve("half-session")
check(rc != 0 and "[sso-session half] lacks sso_region" in got.get("error", "") and
      got.get("status") == CONFIG, f"the session's region only in the profile: {got}")

# ---- (e) the endpoints from the profile's services section, as botocore reads them ----
# Without AWS_ENDPOINT_URL_SSO*, the [services emu] section's sso and sso_oidc blocks lead both
# ecrup and botocore to the emulator (the profile's global endpoint_url, a dead port, ranks
# below them).
endpoint_env = {}
write_cache("corp", {"startUrl": START, "region": "eu-west-1", "accessToken": corp_token,
                     "expiresAt": iso(time.time() + 3600)})
compare_with_botocore("svc", "111122223333", ROLE, corp_token)

emu.register_client("client-s", "client-secret-s", "refresh-token-s")
secrets_seen.extend(["client-secret-s", "refresh-token-s"])
write_cache("refreshing", dict(refresh_doc, clientId="client-s", clientSecret="client-secret-s",
                               refreshToken="refresh-token-s", expiresAt=iso(time.time() + 300),
                               registrationExpiresAt=iso(time.time() + 86400)))
before_t = len(emu.calls_of("CreateToken"))
rc, got = resolve("svc-refresh")
check(rc == 0 and got.get("provider") == "sso", f"services: refreshed and resolved: {got}")
check(len(emu.calls_of("CreateToken")) - before_t == 1, "services: CreateToken at sso_oidc's URL")
with open(cache_path("refreshing")) as f:
    secrets_seen.extend([v for k, v in json.load(f).items() if k.endswith("Token")])

# The source is named when the portal fails.
emu.portal_failures = [500] * 20
rc, got = resolve("svc")
check(rc != 0 and 'from services "emu" sso endpoint_url in profile "svc"' in got.get("error", ""),
      f"services: the endpoint's source in the message: {got}")
emu.portal_failures = []

# AWS_ENDPOINT_URL outranks the services section (botocore's order), here a dead port.
endpoint_env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
before = len(emu.calls_of("GetRoleCredentials"))
rc, got = resolve("svc")
check(rc != 0 and "(from AWS_ENDPOINT_URL)" in got.get("error", "") and
      len(emu.calls_of("GetRoleCredentials")) == before,
      f"AWS_ENDPOINT_URL before the services section: {got}")

# A services value naming no section is refused, as botocore refuses it.
endpoint_env = {}
rc, got = resolve("svc-lost")
check(rc != 0 and got.get("status") == CONFIG and 'services "missing"' in got.get("error", ""),
      f"services naming no section: ECRUP_E_CONFIG: {got}")
check(botocore_resolve("svc-lost") is None, "botocore refuses it too")

# No token, secret or refresh token in anything printed.
everything = "\n".join(outputs)
leaked = [s for s in secrets_seen if s and s in everything]
check(not leaked, f"no secret in any output ({len(leaked)} found)")

emu.stop()
shutil.rmtree(home, ignore_errors=True)
sys.exit(finish("test_credentials_sso"))

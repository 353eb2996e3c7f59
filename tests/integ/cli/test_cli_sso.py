#!/usr/bin/env python3
"""A push through an SSO profile, end to end: `ecrup upload-layer --profile dev` where dev is
an sso_session profile whose token `aws sso login` would have cached; the credentials come
from the loopback IAM Identity Center of tests/support/sso_emulator.py (AWS_ENDPOINT_URL_SSO),
and `ecrup serve --keys` accepts exactly the pair the emulator issues (its own test pair is
not given to the client). Then the same through a legacy (sso_start_url) profile, and
`ecrup config -v` naming the sso provider. The server stored the layer's bytes; no token or
secret appears in any output."""
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import (REGION, Server, check, clean_env, file_digest, finish,  # noqa: E402
                        make_file, run)
from sso_emulator import SsoEmulator  # noqa: E402  (tests/support, on the path via cli_common)

START = "https://corp.awsapps.com/start"
LEGACY_START = "https://legacy.awsapps.com/start"


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-cli-sso-")
    home = os.path.join(tmp, "home")
    cache = os.path.join(home, ".aws", "sso", "cache")
    os.makedirs(cache)
    config = os.path.join(tmp, "config")
    with open(config, "w") as f:
        f.write(f"""[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = ECRPush
region = {REGION}

[sso-session corp]
sso_start_url = {START}
sso_region = eu-west-1

[profile old]
sso_start_url = {LEGACY_START}
sso_region = eu-west-1
sso_account_id = 444455556666
sso_role_name = ECRPush
region = {REGION}
""")
    emu = SsoEmulator()
    tokens = {"corp": "corp-token-" + "a" * 40, LEGACY_START: "legacy-token-" + "b" * 40}
    for key, token in tokens.items():
        emu.add_token(token)
        with open(os.path.join(cache, hashlib.sha1(key.encode()).hexdigest() + ".json"),
                  "w") as f:
            json.dump({"startUrl": START, "region": "eu-west-1", "accessToken": token,
                       "expiresAt": iso(time.time() + 3600)}, f)
    pairs = [emu.grant("111122223333", "ECRPush"), emu.grant("444455556666", "ECRPush")]
    keys = os.path.join(tmp, "keys")
    emu.write_keys(keys)
    server = Server("--keys", keys, "--repository", "sso/app")
    secrets = list(tokens.values()) + [p["secretAccessKey"] for p in pairs] + \
        [p["sessionToken"] for p in pairs]
    outputs = []
    try:
        layer = make_file(tmp, "layer.bin", 3 * 1024 * 1024 + 5, seed=12)
        digest = file_digest(layer)
        for profile, pair in (("dev", pairs[0]), ("old", pairs[1])):
            env = clean_env(HOME=home, AWS_CONFIG_FILE=config,
                            AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "credentials"),
                            AWS_ENDPOINT_URL_ECR=server.url, AWS_ENDPOINT_URL_SSO=emu.url,
                            AWS_ENDPOINT_URL_SSO_OIDC=emu.url)
            before = len(emu.calls_of("GetRoleCredentials"))
            r = run(["upload-layer", "--json", "--profile", profile, "--repository", "sso/app",
                     layer], env)
            outputs += [r.stdout, r.stderr]
            lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
            check(r.returncode == 0 and len(lines) == 1 and
                  lines[0].get("status") == ("uploaded" if profile == "dev" else "exists"),
                  f"{profile}: upload-layer through SSO: rc={r.returncode} {r.stdout} "
                  f"{r.stderr}")
            check(lines and lines[0].get("digest") == digest, f"{profile}: the layer's digest")
            check(len(emu.calls_of("GetRoleCredentials")) > before,
                  f"{profile}: the credentials came from the portal")
            check(server.blob_sha(digest) == digest,
                  f"{profile}: the server stored the layer's bytes")
            r = run(["config", "-v", "--profile", profile], env)
            outputs += [r.stdout, r.stderr]
            check(r.returncode == 0 and "sso" in r.stdout and
                  pair["accessKeyId"][-4:] in r.stdout,
                  f"{profile}: config -v shows the sso provider and the key's tail: {r.stdout} "
                  f"{r.stderr}")
        # With the token gone (logged out), the push is refused with the advice, not sent.
        os.unlink(os.path.join(cache, hashlib.sha1(b"corp").hexdigest() + ".json"))
        env = clean_env(HOME=home, AWS_CONFIG_FILE=config, AWS_ENDPOINT_URL_ECR=server.url,
                        AWS_ENDPOINT_URL_SSO=emu.url)
        r = run(["upload-layer", "--profile", "dev", "--repository", "sso/app", layer], env)
        outputs += [r.stdout, r.stderr]
        check(r.returncode != 0 and "aws sso login --sso-session corp" in r.stderr,
              f"logged out: refused with the login command: rc={r.returncode} {r.stderr}")
    finally:
        server.stop()
        emu.stop()
    everything = "\n".join(outputs)
    check(not [s for s in secrets if s in everything], "no token or secret in any output")
    shutil.rmtree(tmp, ignore_errors=True)


main()
finish("test_cli_sso")

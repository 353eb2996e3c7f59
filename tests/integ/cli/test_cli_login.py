#!/usr/bin/env python3
"""A push through an `aws login` profile, end to end: `ecrup upload-layer --profile dev` where
dev has login_session and the cached pair has 2 minutes left, so ecrup first refreshes it
through the loopback sign-in service of tests/support/signin_emulator.py
(AWS_ENDPOINT_URL_SIGNIN), which verifies the DPoP proof; `ecrup serve --keys` accepts exactly
the pair the emulator issues next (neither the stale cached pair nor ecrup's own test pair).
Then a profile whose cached pair is fresh pushes without a call, `ecrup config -v` names the
login provider, and an expired session is refused with the `aws login` command. The server
stored the layer's bytes; no token, key or secret appears in any output."""
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
from signin_emulator import SigninEmulator, make_key  # noqa: E402  (tests/support)

SESSIONS = {"dev": "arn:aws:iam::111122223333:user/dev",
            "fresh": "arn:aws:iam::111122223333:user/fresh"}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-cli-login-")
    home = os.path.join(tmp, "home")
    cache = os.path.join(home, ".aws", "login", "cache")
    os.makedirs(cache)
    config = os.path.join(tmp, "config")
    with open(config, "w") as f:
        for profile, session in SESSIONS.items():
            f.write(f"[profile {profile}]\nlogin_session = {session}\nregion = {REGION}\n\n")
    emu = SigninEmulator()
    secrets = []
    cached = {}
    for profile, session, left in (("dev", SESSIONS["dev"], 120),
                                   ("fresh", SESSIONS["fresh"], 3600)):
        pem, jwk = make_key()
        n = len(cached) + 1
        pair = {"accessKeyId": "ASIACACHEDPAIR%06d" % n,
                "secretAccessKey": "cached-secret-%d-%s" % (n, os.urandom(8).hex()),
                "sessionToken": "cached-session-%d-%s" % (n, os.urandom(16).hex())}
        refresh = "refresh-" + os.urandom(12).hex()
        emu.add_session("arn:aws:signin:::devtools/same-device", refresh, jwk)
        path = os.path.join(cache, hashlib.sha256(session.encode()).hexdigest() + ".json")
        with open(path, "w") as f:
            json.dump({"accessToken": dict(pair, accountId="111122223333",
                                           expiresAt=iso(time.time() + left)),
                       "tokenType": "aws_sigv4", "refreshToken": refresh,
                       "clientId": "arn:aws:signin:::devtools/same-device", "dpopKey": pem}, f)
        cached[profile] = (pair, path)
        secrets += [pair["secretAccessKey"], pair["sessionToken"], refresh]
        secrets += [line for line in pem.splitlines() if "-----" not in line]
    issued = emu.prepare_pairs(1)[0]
    secrets += [issued["secretAccessKey"], issued["sessionToken"]]
    keys = os.path.join(tmp, "keys")
    emu.write_keys(keys, extra=[cached["fresh"][0]])  # not dev's stale cached pair
    server = Server("--keys", keys, "--repository", "login/app")
    outputs = []
    try:
        layer = make_file(tmp, "layer.bin", 3 * 1024 * 1024 + 7, seed=21)
        digest = file_digest(layer)
        env = clean_env(HOME=home, AWS_CONFIG_FILE=config,
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "credentials"),
                        AWS_ENDPOINT_URL_ECR=server.url, AWS_ENDPOINT_URL_SIGNIN=emu.url)
        for profile, status, calls, pair in (("dev", "uploaded", 1, issued),
                                             ("fresh", "exists", 0, cached["fresh"][0])):
            before = len(emu.calls_made())
            r = run(["upload-layer", "--json", "--profile", profile, "--repository", "login/app",
                     layer], env)
            outputs += [r.stdout, r.stderr]
            lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
            check(r.returncode == 0 and len(lines) == 1 and lines[0].get("status") == status,
                  f"{profile}: upload-layer through the login session: rc={r.returncode} "
                  f"{r.stdout} {r.stderr}")
            check(lines and lines[0].get("digest") == digest, f"{profile}: the layer's digest")
            made = emu.calls_made()[before:]
            check(len(made) == calls and all(c["dpop"] == "ok" for c in made),
                  f"{profile}: {calls} CreateOAuth2Token call(s), each proof verified: {made}")
            check(server.blob_sha(digest) == digest,
                  f"{profile}: the server stored the layer's bytes")
            r = run(["config", "-v", "--profile", profile], env)
            outputs += [r.stdout, r.stderr]
            check(r.returncode == 0 and "login" in r.stdout and
                  pair["accessKeyId"][-4:] in r.stdout,
                  f"{profile}: config -v shows the login provider and the key's tail: "
                  f"{r.stdout} {r.stderr}")
        with open(cached["dev"][1]) as f:
            written = json.load(f)
        secrets.append(written.get("refreshToken", ""))
        check(written.get("accessToken", {}).get("accessKeyId") == issued["accessKeyId"],
              "dev: the refreshed pair is in the cache file")

        # The session is over (the service says TOKEN_EXPIRED): refused with the command.
        with open(cached["dev"][1]) as f:
            doc = json.load(f)
        doc["accessToken"]["expiresAt"] = iso(time.time() - 60)
        with open(cached["dev"][1], "w") as f:
            json.dump(doc, f)
        emu.failures = ["expired"]
        r = run(["upload-layer", "--profile", "dev", "--repository", "login/app", layer], env)
        outputs += [r.stdout, r.stderr]
        check(r.returncode != 0 and "has expired: run `aws login --profile dev`" in r.stderr,
              f"expired session: refused with the login command: rc={r.returncode} {r.stderr}")
    finally:
        server.stop()
        emu.stop()
    everything = "\n".join(outputs)
    check(not [s for s in secrets if s and s in everything], "no token, key or secret in output")
    shutil.rmtree(tmp, ignore_errors=True)


main()
finish("test_cli_login")

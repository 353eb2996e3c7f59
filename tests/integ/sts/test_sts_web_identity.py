"""STS and web identity end to end, against the loopback STS emulator.

usage: test_sts_web_identity.py CRED_TOOL STS_TOOL

- The STS endpoint ecrup picks equals botocore's over a grid of regions and settings.
- Web identity (environment and profile) resolves to the pair the emulator issued, with the
  same STS call (role ARN, session name) botocore makes pointed at the same emulator.
- The token file is read again when the cache refreshes (rotated in between).
- Throttling is retried; AccessDenied, a wrong token, a missing token file, AWS_ROLE_ARN
  without the token file (and the reverse) are refused with messages naming the role or file,
  never the token.
- AssumeRole (sts_assume_role) is signed as botocore signs it: the emulator re-computes the
  signature with botocore; ExternalId, DurationSeconds and MFA fields are sent.
- The caller's region (`ecrup --region`) and the profile's services section choose the STS
  endpoint as botocore's session region and ConfiguredEndpointProvider do; through the CLI,
  --region and --ca-bundle reach the web identity call (seen by a loopback CONNECT proxy).
- `ecrup upload-layer` pushes a layer through web identity to `ecrup serve --keys` holding
  the pairs the emulator issues; `ecrup config -v` names the provider.
Every run sets AWS_EC2_METADATA_DISABLED, HOME and the shared files to temporary ones and
points STS at the emulator: nothing leaves loopback."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "support"))
import checks  # noqa: E402
import serve  # noqa: E402
from checks import check  # noqa: E402
from sts_emulator import StsEmulator  # noqa: E402

CRED_TOOL, STS_TOOL = sys.argv[1], sys.argv[2]
BUILD = os.environ.get("ECRUP_BINARY_DIR", "build")
ECRUP = os.path.abspath(os.path.join(BUILD, "ecrup"))
HOME = tempfile.mkdtemp(prefix="ecrup-sts-home-")
ROLE = "arn:aws:iam::123456789012:role/ci-pusher"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl"
TOKEN_FILE = os.path.join(HOME, "token")


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def env_for(extra=None, sts=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=HOME, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.path.join(HOME, "config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(HOME, "credentials"))
    if sts:
        env["AWS_ENDPOINT_URL_STS"] = sts.url
    env.update(extra or {})
    return env


def tool(args, env, timeout=60):
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    fields = {}
    for part in r.stdout.strip().split(" "):
        if "=" in part:
            k, v = part.split("=", 1)
            fields.setdefault(k, v)
    return r, fields


def botocore_session(env, profile=None):
    """A botocore Session seeing `env` (botocore reads os.environ itself)."""
    import botocore.session
    os.environ.clear()
    os.environ.update(env)
    return botocore.session.Session(profile=profile)


def test_endpoints():
    saved = dict(os.environ)
    grid = 0
    for region in (None, "us-east-1", "eu-west-1", "ap-south-1", "af-south-1", "cn-north-1",
                   "us-gov-west-1"):
        for mode in (None, "regional", "legacy"):
            for fips in (None, "true"):
                extra = {}
                if region:
                    extra["AWS_DEFAULT_REGION"] = region  # the one botocore reads
                if mode:
                    extra["AWS_STS_REGIONAL_ENDPOINTS"] = mode
                if fips:
                    if not region:
                        continue  # botocore has no FIPS global endpoint
                    extra["AWS_USE_FIPS_ENDPOINT"] = fips
                env = env_for(extra)
                r, f = tool([STS_TOOL, "endpoint"], env)
                s = botocore_session(env)
                c = s.create_client("sts", aws_access_key_id="a", aws_secret_access_key="b")
                grid += 1
                check(f.get("url") == c.meta.endpoint_url,
                      "endpoint %s: ecrup %s, botocore %s" % (extra, f.get("url"),
                                                              c.meta.endpoint_url))
    os.environ.clear()
    os.environ.update(saved)
    check(grid >= 30, "endpoint grid ran (%d cases)" % grid)
    # Overrides: the service variable, then the general one.
    r, f = tool([STS_TOOL, "endpoint"], env_for({"AWS_ENDPOINT_URL": "http://127.0.0.1:8",
                                                 "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"}))
    check(f.get("url") == "http://127.0.0.1:9" and f.get("source") == "AWS_ENDPOINT_URL_STS",
          "AWS_ENDPOINT_URL_STS wins: %r" % r.stdout)

    # The caller's region (the CLI's --region; botocore's client region_name) before the
    # environment's and the profile's; and the profile's services section, in botocore's order.
    config = os.path.join(HOME, "config")
    write(config, "[default]\nregion = eu-west-1\n\n"
                  "[profile svc]\nservices = emu\nendpoint_url = http://127.0.0.1:8\n\n"
                  "[services emu]\nsts =\n  endpoint_url = http://127.0.0.1:7\n")
    cases = [  # (environment, caller's region, profile, URL, source)
        ({}, None, None, "https://sts.eu-west-1.amazonaws.com", "partition default"),
        ({}, "ap-south-1", None, "https://sts.ap-south-1.amazonaws.com", "partition default"),
        ({"AWS_DEFAULT_REGION": "us-west-2"}, "ap-south-1", None,
         "https://sts.ap-south-1.amazonaws.com", "partition default"),
        ({}, None, "svc", "http://127.0.0.1:7",
         'services "emu" sts endpoint_url in profile "svc"'),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:6"}, None, "svc", "http://127.0.0.1:6",
         "AWS_ENDPOINT_URL"),
        ({"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "ca-central-1", "svc",
         "https://sts.ca-central-1.amazonaws.com", "partition default"),
    ]
    for extra, region, profile, want_url, want_source in cases:
        env = env_for(dict(extra, **({"AWS_PROFILE": profile} if profile else {})))
        r, f = tool([STS_TOOL, "endpoint"] + ([region] if region else []), env)
        c = botocore_session(env).create_client("sts", region_name=region,
                                                aws_access_key_id="a", aws_secret_access_key="b")
        label = "endpoint %s region=%s profile=%s" % (extra, region, profile)
        source = r.stdout.split(" source=", 1)[-1].strip()
        check(f.get("url") == want_url and source == want_source,
              "%s: ecrup %r, expected %s from %s" % (label, r.stdout, want_url, want_source))
        check(c.meta.endpoint_url == want_url,
              "%s: botocore %s, expected %s" % (label, c.meta.endpoint_url, want_url))
        if region and want_source == "partition default":
            check(f.get("region") == region, "%s: signed for %s: %r" % (label, region, r.stdout))
    os.environ.clear()
    os.environ.update(saved)
    os.unlink(config)


def test_web_identity_env():
    sts = StsEmulator(web_token=TOKEN)
    write(TOKEN_FILE, TOKEN)
    base = {"AWS_WEB_IDENTITY_TOKEN_FILE": TOKEN_FILE, "AWS_ROLE_ARN": ROLE,
            "AWS_ROLE_SESSION_NAME": "ci-run-42"}
    r, f = tool([CRED_TOOL, "resolve"], env_for(base, sts))
    ok = check(r.returncode == 0 and f.get("provider") == "web-identity",
               "web identity from the environment answers: %r %r" % (r.stdout, r.stderr))
    if ok:
        akid, secret, token = sts.issued[0]
        check(f["akid"] == akid and f["secret_sha256"] == sha(secret) and
              f["token_sha256"] == sha(token), "the issued pair is the one resolved")
        check(int(f["expiration"]) > time.time() + 3000, "the expiration is carried")
    call = sts.calls[0] if sts.calls else {}
    check(call.get("action") == "AssumeRoleWithWebIdentity" and call.get("role_arn") == ROLE and
          call.get("session_name") == "ci-run-42" and call.get("version") == "2011-06-15",
          "the call names the role and session: %r" % call)
    check((call.get("content_type") or "").startswith("application/x-www-form-urlencoded"),
          "form body: %r" % call.get("content_type"))
    check(TOKEN not in r.stdout + r.stderr, "the token is not printed")

    # botocore, pointed at the same emulator, makes the same call.
    saved = dict(os.environ)
    creds = botocore_session(env_for(base, sts)).get_credentials().get_frozen_credentials()
    os.environ.clear()
    os.environ.update(saved)
    check(creds.access_key == sts.issued[-1][0], "botocore resolves through the emulator too")
    ours, theirs = sts.calls[0], sts.calls[-1]
    check(len(sts.calls) == 2 and
          all(ours[k] == theirs[k] for k in ("action", "role_arn", "session_name")),
          "ecrup and botocore make the same STS call: %r vs %r" % (ours, theirs))

    # Without a session name: a generated one with the time, as botocore's.
    env = env_for({k: v for k, v in base.items() if k != "AWS_ROLE_SESSION_NAME"}, sts)
    r, f = tool([CRED_TOOL, "resolve"], env)
    name = sts.calls[-1].get("session_name") or ""
    m = re.fullmatch(r"ecrup-session-(\d+)", name)
    check(r.returncode == 0 and m and abs(int(m.group(1)) - time.time()) < 60,
          "default session name with the unix time: %r" % name)

    # Throttled twice, then answered.
    sts.throttle = 2
    n0 = len(sts.calls)
    r, f = tool([CRED_TOOL, "resolve"], env_for(base, sts))
    check(r.returncode == 0 and len(sts.calls) == n0 + 3,
          "throttling retried (%d calls): %r" % (len(sts.calls) - n0, r.stdout))

    # AccessDenied names the role and the token file, never the token.
    sts.deny_roles.add(ROLE)
    r, f = tool([CRED_TOOL, "resolve"], env_for(base, sts))
    out = r.stdout + r.stderr
    check(r.returncode != 0 and "AccessDenied" in out and ROLE in out and TOKEN_FILE in out and
          TOKEN not in out, "AccessDenied refused with the role named: %r" % out)
    sts.deny_roles.clear()

    # A token STS does not accept.
    write(TOKEN_FILE, "not-the-token")
    r, f = tool([CRED_TOOL, "resolve"], env_for(base, sts))
    check(r.returncode != 0 and "InvalidIdentityToken" in r.stdout and
          "not-the-token" not in r.stdout, "a wrong token is refused: %r" % r.stdout)
    write(TOKEN_FILE, TOKEN)

    # Refusals that never reach STS, and never fall through to IMDS.
    n0 = len(sts.calls)
    missing = os.path.join(HOME, "no-such-token")
    r, f = tool([CRED_TOOL, "resolve"], env_for(dict(base, AWS_WEB_IDENTITY_TOKEN_FILE=missing),
                                                sts))
    check(r.returncode != 0 and missing in r.stdout and "imds" not in r.stdout.lower(),
          "a missing token file is named: %r" % r.stdout)
    r, f = tool([CRED_TOOL, "resolve"], env_for({"AWS_ROLE_ARN": ROLE}, sts))
    check(r.returncode != 0 and "AWS_WEB_IDENTITY_TOKEN_FILE" in r.stdout,
          "AWS_ROLE_ARN without the token file is refused: %r" % r.stdout)
    r, f = tool([CRED_TOOL, "resolve"], env_for({"AWS_WEB_IDENTITY_TOKEN_FILE": TOKEN_FILE}, sts))
    check(r.returncode != 0 and "AWS_ROLE_ARN" in r.stdout,
          "the token file without AWS_ROLE_ARN is refused: %r" % r.stdout)
    check(len(sts.calls) == n0, "refusals send nothing to STS")
    # Static keys in the environment still come first, as in botocore.
    r, f = tool([CRED_TOOL, "resolve"], env_for(dict(base, AWS_ACCESS_KEY_ID="AKIAENV",
                                                     AWS_SECRET_ACCESS_KEY="s"), sts))
    check(f.get("provider") == "env", "env keys win over web identity: %r" % r.stdout)
    sts.stop()


def test_web_identity_profile():
    sts = StsEmulator(web_token=TOKEN)
    write(TOKEN_FILE, TOKEN)
    other = "arn:aws:iam::123456789012:role/from-env"
    write(os.path.join(HOME, "config"),
          "[default]\nweb_identity_token_file = %s\nrole_arn = %s\nrole_session_name = prof\n\n"
          "[profile wi]\nweb_identity_token_file = %s\nrole_arn = %s\n\n"
          "[profile chained]\nrole_arn = %s\nsource_profile = wi\n\n"
          "[profile wi-svc]\nweb_identity_token_file = %s\nrole_arn = %s\nservices = emu\n\n"
          "[services emu]\nsts =\n  endpoint_url = %s\n"
          % (TOKEN_FILE, ROLE, TOKEN_FILE, ROLE, ROLE, TOKEN_FILE, ROLE, sts.url))
    r, f = tool([CRED_TOOL, "resolve"], env_for(None, sts))
    check(r.returncode == 0 and f.get("provider") == "web-identity" and
          sts.calls and sts.calls[-1]["session_name"] == "prof",
          "web identity from the default profile: %r" % r.stdout)
    # A named profile: the environment's web identity settings are not read (botocore's
    # --profile does the same), so the profile's role is assumed.
    n0 = len(sts.calls)
    env = env_for({"AWS_ROLE_ARN": other}, sts)
    r, f = tool([CRED_TOOL, "resolve", "wi"], env)
    ours = sts.calls[-1] if len(sts.calls) > n0 else {}
    saved = dict(os.environ)
    creds = botocore_session(env, profile="wi").get_credentials().get_frozen_credentials()
    os.environ.clear()
    os.environ.update(saved)
    theirs = sts.calls[-1]
    check(r.returncode == 0 and ours.get("role_arn") == ROLE and theirs.get("role_arn") == ROLE
          and creds.access_key == sts.issued[-1][0],
          "profile wi: ecrup and botocore assume the profile's role: %r %r" % (ours, theirs))
    # STS from the profile's services section, no AWS_ENDPOINT_URL_STS: ecrup and botocore
    # reach the emulator through it.
    n0 = len(sts.calls)
    r, f = tool([CRED_TOOL, "resolve", "wi-svc"], env_for())
    check(r.returncode == 0 and f.get("akid") == sts.issued[-1][0] and len(sts.calls) == n0 + 1,
          "web identity through the services section's sts endpoint: %r" % r.stdout)
    saved = dict(os.environ)
    creds = botocore_session(env_for(), profile="wi-svc").get_credentials()
    creds = creds.get_frozen_credentials()
    os.environ.clear()
    os.environ.update(saved)
    check(creds.access_key == sts.issued[-1][0] and len(sts.calls) == n0 + 2,
          "botocore reaches the emulator through the services section too")
    # An assume-role profile over the web identity profile: AssumeRoleWithWebIdentity for wi,
    # then AssumeRole for chained signed with what that gave, in botocore's order.
    n0 = len(sts.calls)
    regional = env_for({"AWS_DEFAULT_REGION": "eu-west-1"}, sts)  # botocore signs for one
    r, f = tool([CRED_TOOL, "resolve", "chained"], regional)
    ours = [(c["action"], c["role_arn"], c["signed_by"]) for c in sts.calls[n0:]]
    ours_key, first_issued = f.get("akid"), len(sts.issued)
    n1 = len(sts.calls)
    creds = botocore_session(regional, profile="chained").get_credentials() \
        .get_frozen_credentials()
    os.environ.clear()
    os.environ.update(saved)
    theirs = [(c["action"], c["role_arn"], c["signed_by"]) for c in sts.calls[n1:]]
    shape = lambda calls: [(a, arn, signer is not None) for a, arn, signer in calls]
    check(r.returncode == 0 and f.get("provider") == "assume-role" and
          shape(ours) == shape(theirs) == [("AssumeRoleWithWebIdentity", ROLE, False),
                                           ("AssumeRole", ROLE, True)],
          "profile chained: web identity then AssumeRole, as botocore: %r %r" % (ours, theirs))
    check(ours and ours[1][2] == sts.issued[first_issued - 2][0] and
          ours_key == sts.issued[first_issued - 1][0] and creds.access_key == sts.issued[-1][0],
          "AssumeRole was signed with the web identity pair and answered the role's pair")
    os.unlink(os.path.join(HOME, "config"))
    sts.stop()


def test_token_rotation():
    """The cache refreshes credentials about to expire; the token file is read again."""
    sts = StsEmulator(web_token=TOKEN, lifetime=4)  # fresh for the two gets, not after 3 s
    write(TOKEN_FILE, TOKEN)
    env = env_for({"AWS_WEB_IDENTITY_TOKEN_FILE": TOKEN_FILE, "AWS_ROLE_ARN": ROLE}, sts)
    p = subprocess.Popen([CRED_TOOL, "refresh"], env=env, stdout=subprocess.PIPE, text=True)
    # Rotate once the tool holds its first credentials (it prints them and the second get
    # before it sleeps), not when the emulator has merely received the first call.
    head = [p.stdout.readline(), p.stdout.readline()]
    rotated = TOKEN + ".rotated"
    write(TOKEN_FILE, rotated)
    sts.web_token = rotated  # the old token no longer passes
    out, _ = p.communicate(timeout=60)
    out = "".join(head) + out
    lines = out.strip().splitlines()
    check(p.returncode == 0 and len(lines) == 3 and len(sts.calls) == 2 and
          sts.issued[1][0] in lines[2],
          "after the rotation the refresh sends the new token: %r (calls %d, issued %s)"
          % (out, len(sts.calls), [akid for akid, _, _ in sts.issued]))
    sts.stop()


def test_assume_role():
    src_akid, src_secret = "AKIAEMULATEDSOURCE01", "source/secret+key0123456789abcdefghijklmn"
    sts = StsEmulator(keys={src_akid: src_secret})
    env = env_for({"STS_SOURCE_AKID": src_akid, "STS_SOURCE_SECRET": src_secret,
                   "AWS_REGION": "eu-west-1"}, sts)
    r, f = tool([STS_TOOL, "assume-role", ROLE, "sess-1", "ext/id=1", "1800", "arn:mfa",
                 "123456"], env)
    call = sts.calls[-1] if sts.calls else {}
    check(r.returncode == 0 and f.get("akid") == sts.issued[0][0] and
          f.get("secret_sha256") == sha(sts.issued[0][1]),
          "AssumeRole answers with the issued pair: %r" % r.stdout)
    check(call.get("signed_by") == src_akid and call.get("external_id") == "ext/id=1" and
          call.get("duration") == "1800" and call.get("serial") == "arn:mfa" and
          call.get("code") == "123456" and call.get("session_name") == "sess-1",
          "the call is signed by the source and carries its fields: %r" % call)
    # Signed with a session token: the issued pair assumes the next role (a chain).
    akid, secret, token = sts.issued[0]
    env2 = dict(env, STS_SOURCE_AKID=akid, STS_SOURCE_SECRET=secret, STS_SOURCE_TOKEN=token)
    r, f = tool([STS_TOOL, "assume-role", ROLE + "-2", "sess-2"], env2)
    check(r.returncode == 0 and sts.calls[-1]["signed_by"] == akid and
          sts.calls[-1]["external_id"] is None, "a temporary pair signs too: %r" % r.stdout)
    # A wrong secret: the emulator's botocore check refuses the signature.
    r, f = tool([STS_TOOL, "assume-role", ROLE, "sess-3"], dict(env, STS_SOURCE_SECRET="wrong"))
    check(r.returncode != 0 and "SignatureDoesNotMatch" in r.stdout and ROLE in r.stdout and
          "wrong" not in r.stdout.split("SignatureDoesNotMatch")[0],
          "a bad signature is refused: %r" % r.stdout)
    # AccessDenied names the role and what it was assumed with.
    sts.deny_roles.add(ROLE)
    r, f = tool([STS_TOOL, "assume-role", ROLE, "sess-4"], env)
    check(r.returncode != 0 and "AccessDenied" in r.stdout and ROLE in r.stdout and
          src_akid in r.stdout and src_secret not in r.stdout,
          "AccessDenied for AssumeRole: %r" % r.stdout)
    # Nothing listening: a transport error after the retries, naming the host.
    dead = env_for({"STS_SOURCE_AKID": src_akid, "STS_SOURCE_SECRET": src_secret,
                    "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"})
    r, f = tool([STS_TOOL, "assume-role", ROLE, "sess-5"], dead)
    check(r.returncode != 0 and "NetworkError" in r.stdout and "127.0.0.1" in r.stdout,
          "an unreachable STS: %r" % r.stdout)
    sts.stop()


class ConnectRecorder:
    """A loopback HTTPS proxy that records the CONNECT targets, accepts and hangs up: what the
    credential chain's STS call is addressed to without anything leaving the machine."""

    def __init__(self):
        import http.server
        import threading
        targets = self.targets = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                targets.append(self.path)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_cli_region():
    """`ecrup --region B` with a profile in region A: web identity calls STS in region B, as
    botocore's session region reaches its STS client; --ca-bundle reaches that call too."""
    proxy = ConnectRecorder()
    write(TOKEN_FILE, TOKEN)
    config = os.path.join(HOME, "config")
    write(config, "[default]\nregion = eu-west-1\nweb_identity_token_file = %s\nrole_arn = %s\n"
          % (TOKEN_FILE, ROLE))
    env = env_for({"https_proxy": proxy.url, "HTTPS_PROXY": proxy.url,
                   "AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:9"})
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    r = subprocess.run([ECRUP, "config"], env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode != 0 and proxy.targets[-1:] == ["sts.eu-west-1.amazonaws.com:443"],
          "without --region, STS in the profile's region: %r %r" % (proxy.targets, r.stderr))
    n0 = len(proxy.targets)
    r = subprocess.run([ECRUP, "config", "--region", "ap-south-1"], env=env, capture_output=True,
                       text=True, timeout=120)
    out = r.stdout + r.stderr
    check(r.returncode != 0 and proxy.targets[n0:] and
          set(proxy.targets[n0:]) == {"sts.ap-south-1.amazonaws.com:443"} and
          "sts.ap-south-1.amazonaws.com" in out,
          "--region ap-south-1 reaches STS: %r %r" % (proxy.targets[n0:], out))
    missing = os.path.join(HOME, "no-such-ca.pem")
    r = subprocess.run([ECRUP, "config", "--region", "ap-south-1", "--ca-bundle", missing],
                       env=env, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    check(r.returncode != 0 and "cannot reach sts.ap-south-1.amazonaws.com" in out and
          "certificate file: " + missing in out, "--ca-bundle reaches the STS call: %r" % out)
    os.unlink(config)
    proxy.stop()


def test_push():
    """upload-layer through web identity to `ecrup serve --keys` holding the emulator's pairs."""
    sts = StsEmulator(web_token=TOKEN)
    sts.prepare(4)
    keys = os.path.join(HOME, "keys")
    sts.write_keys(keys)
    write(TOKEN_FILE, TOKEN)
    data = tempfile.mkdtemp(prefix="ecrup-sts-data-")
    server = serve.Server(ECRUP, "--keys", keys, "--repository", "sts/web-identity", env=env_for(), data_dir=data, remove_data=True)
    try:
        layer = os.path.join(HOME, "layer.bin")
        with open(layer, "wb") as f:
            f.write(os.urandom(300 * 1024))
        env = env_for({"AWS_WEB_IDENTITY_TOKEN_FILE": TOKEN_FILE, "AWS_ROLE_ARN": ROLE,
                       "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": server.url}, sts)
        r = subprocess.run([ECRUP, "upload-layer", "--json", "--repository", "sts/web-identity",
                            layer], env=env, capture_output=True, text=True, timeout=120)
        check(r.returncode == 0 and '"uploaded"' in r.stdout,
              "upload-layer through web identity: %r %r" % (r.stdout, r.stderr[-2000:]))
        digest = checks.file_digest(layer)
        check(server.blob_sha(digest) == digest, "the server stored the layer")
        check(len(sts.calls) >= 1 and sts.calls[0]["role_arn"] == ROLE,
              "the push assumed the role through STS")
        check(TOKEN not in r.stdout + r.stderr, "the token is not printed")
        r = subprocess.run([ECRUP, "config", "-v"], env=env, capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 0 and "web-identity" in r.stdout and
              sts.issued[-1][1] not in r.stdout,
              "ecrup config -v names the web identity provider: %r" % r.stdout[-1500:])
    finally:
        server.stop()
        sts.stop()


if __name__ == "__main__":
    try:
        import botocore  # noqa: F401
    except ImportError:
        print("botocore missing: skipped")
        sys.exit(77)
    test_endpoints()
    test_web_identity_env()
    test_web_identity_profile()
    test_token_rotation()
    test_assume_role()
    test_cli_region()
    test_push()
    shutil.rmtree(HOME, ignore_errors=True)
    sys.exit(checks.finish("test_sts_web_identity"))

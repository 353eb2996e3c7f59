"""Assume-role profiles end to end, against the loopback STS emulator, botocore the oracle.

usage: test_assume_role.py CRED_TOOL

- role_arn + source_profile over static keys: the AssumeRole call (role, external id, session
  name, duration) signed with the source's keys, as botocore makes it against the same
  emulator; chains of depth 3 assume each role with the previous one's pair; a profile that
  sources itself with static keys; credential_source = Environment.
- Refusals name the profiles: a cycle (with every profile in it), a missing source_profile,
  both source_profile and credential_source, neither, an unknown credential_source, a source
  with no credentials, a bad duration_seconds, an AccessDenied (the role and the source).
- mfa_serial: the library's callback gives the code (SerialNumber and TokenCode sent); without
  one, or refused, a clear error; the CLI asks on the terminal (a pseudo-terminal here).
- `ecrup upload-layer` pushes through an assume-role profile to `ecrup serve --keys`.
Every run sets AWS_EC2_METADATA_DISABLED, HOME and the shared files to temporary ones and
points STS at the emulator: nothing leaves loopback."""
import os
import pty
import select
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

CRED_TOOL = sys.argv[1]
BUILD = os.environ.get("ECRUP_BINARY_DIR", "build")
ECRUP = os.path.abspath(os.path.join(BUILD, "ecrup"))
HOME = tempfile.mkdtemp(prefix="ecrup-assume-role-home-")
ACCOUNT = "123456789012"
BASE_KEY, BASE_SECRET = "AKIAASSUMEBASE000001", "base/secret/never/printed/0000000000001"
ENV_KEY, ENV_SECRET = "AKIAASSUMEENV0000001", "env/secret/never/printed/00000000000001"


def role(name):
    return "arn:aws:iam::%s:role/%s" % (ACCOUNT, name)


def write(name, text):
    with open(os.path.join(HOME, name), "w") as f:
        f.write(text)


def env_for(sts, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=HOME, AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="eu-west-1",
               AWS_CONFIG_FILE=os.path.join(HOME, "config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(HOME, "credentials"),
               AWS_ENDPOINT_URL_STS=sts.url)
    env.update(extra or {})
    return env


def resolve(profile, env):
    r = subprocess.run([CRED_TOOL, "resolve", profile], env=env, capture_output=True, text=True,
                       timeout=60)
    fields = {}
    for line in r.stdout.splitlines():
        if line.startswith("error="):
            fields["error"] = line[6:]
            continue
        for part in line.split(" "):
            if "=" in part:
                k, v = part.split("=", 1)
                fields.setdefault(k, v)
    return r, fields


def botocore_calls(sts, profile, env):
    """botocore's credentials for `profile` and the STS calls it made, or its exception."""
    import botocore.session
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    n = len(sts.calls)
    try:
        creds = botocore.session.Session(profile=profile).get_credentials()
        return creds.get_frozen_credentials(), sts.calls[n:], None
    except Exception as e:  # noqa: BLE001: any refusal is compared by kind
        return None, sts.calls[n:], e
    finally:
        os.environ.clear()
        os.environ.update(saved)


def call_shape(c):
    return (c["action"], c["role_arn"], c["external_id"], c["duration"], c["serial"],
            c["session_name"] if not c["session_name"].startswith(("ecrup-session-",
                                                                   "botocore-session-"))
            else "<default>")


CONFIG = """[profile base]
region = eu-west-1

[profile plain]
role_arn = {plain}
source_profile = base

[profile full]
role_arn = {full}
source_profile = base
external_id = ext-1234
role_session_name = ci-build-77
duration_seconds = 1800

[profile top]
role_arn = {top}
source_profile = middle
[profile middle]
role_arn = {middle}
source_profile = plain

[profile self]
role_arn = {self}
source_profile = self
aws_access_key_id = {key}
aws_secret_access_key = {secret}

[profile fromenv]
role_arn = {fromenv}
credential_source = Environment

[profile fromimds]
role_arn = {fromenv}
credential_source = Ec2InstanceMetadata

[profile loop-a]
role_arn = {plain}
source_profile = loop-b
[profile loop-b]
role_arn = {plain}
source_profile = loop-c
[profile loop-c]
role_arn = {plain}
source_profile = loop-a

[profile missing]
role_arn = {plain}
source_profile = nowhere

[profile both]
role_arn = {plain}
source_profile = base
credential_source = Environment

[profile neither]
role_arn = {plain}

[profile badsource]
role_arn = {plain}
credential_source = Laptop

[profile empty]
region = eu-west-1
[profile fromempty]
role_arn = {plain}
source_profile = empty

[profile badduration]
role_arn = {plain}
source_profile = base
duration_seconds = an hour

[profile denied]
role_arn = {denied}
source_profile = base

[profile mfa]
role_arn = {plain}
source_profile = base
mfa_serial = arn:aws:iam::{account}:mfa/dev
"""


def setup():
    write("config", CONFIG.format(
        plain=role("plain"), full=role("full"), top=role("top"), middle=role("middle"),
        self=role("self"), fromenv=role("fromenv"), denied=role("denied"), key=BASE_KEY,
        secret=BASE_SECRET, account=ACCOUNT))
    write("credentials", "[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
          % (BASE_KEY, BASE_SECRET))


def test_resolved_like_botocore():
    sts = StsEmulator(keys={BASE_KEY: BASE_SECRET, ENV_KEY: ENV_SECRET},
                      deny_roles={role("denied")})
    env_keys = {"AWS_ACCESS_KEY_ID": ENV_KEY, "AWS_SECRET_ACCESS_KEY": ENV_SECRET}
    cases = [
        ("plain", None, [("AssumeRole", role("plain"), BASE_KEY)]),
        ("full", None, [("AssumeRole", role("full"), BASE_KEY)]),
        ("top", None, [("AssumeRole", role("plain"), BASE_KEY),
                       ("AssumeRole", role("middle"), "issued"),
                       ("AssumeRole", role("top"), "issued")]),
        ("self", None, [("AssumeRole", role("self"), BASE_KEY)]),
        ("fromenv", env_keys, [("AssumeRole", role("fromenv"), ENV_KEY)]),
    ]
    for profile, extra, want in cases:
        env = env_for(sts, extra)
        n0 = len(sts.calls)
        r, f = resolve(profile, env)
        ours = sts.calls[n0:]
        issued_before = [k for k, _s, _t in sts.issued]
        creds, theirs, exc = botocore_calls(sts, profile, env)
        got = [(c["action"], c["role_arn"],
                "issued" if c["signed_by"] in issued_before and c["signed_by"] not in
                (BASE_KEY, ENV_KEY) else c["signed_by"]) for c in ours]
        check(r.returncode == 0 and f.get("provider") == "assume-role" and got == want,
              "%s: resolved through %r: %r %r" % (profile, want, got, r.stdout + r.stderr))
        check(exc is None and [call_shape(c) for c in ours] == [call_shape(c) for c in theirs],
              "%s: the same STS calls as botocore: %r / %r (%r)"
              % (profile, [call_shape(c) for c in ours], [call_shape(c) for c in theirs], exc))
        check(issued_before and f.get("akid") == issued_before[-1],
              "%s: answered with the pair the last AssumeRole issued" % profile)
        check(creds is not None and creds.access_key in [k for k, _s, _t in sts.issued],
              "%s: botocore got an issued pair too" % profile)
        out = r.stdout + r.stderr
        check(BASE_SECRET not in out and ENV_SECRET not in out and
              all(s not in out and t not in out for _k, s, t in sts.issued),
              "%s: no secret printed" % profile)
    full = [c for c in sts.calls if c["role_arn"] == role("full")]
    check(full and all(c["external_id"] == "ext-1234" and c["session_name"] == "ci-build-77" and
                       c["duration"] == "1800" for c in full),
          "full: ExternalId, RoleSessionName and DurationSeconds sent: %r" % full)
    plain = [c for c in sts.calls if c["role_arn"] == role("plain")]
    check(plain and all(c["session_name"].startswith("ecrup-session-") or
                        c["session_name"].startswith("botocore-session-") for c in plain),
          "plain: a default session name with the time: %r" % [c["session_name"] for c in plain])
    sts.stop()


def test_refusals():
    sts = StsEmulator(keys={BASE_KEY: BASE_SECRET}, deny_roles={role("denied")})
    cases = [
        ("loop-a", 'form a cycle: "loop-a" -> "loop-b" -> "loop-c" -> "loop-a"', 7),
        ("missing", 'source_profile "nowhere" named in profile "missing" does not exist', 7),
        ("both", 'profile "both" has both source_profile and credential_source', 7),
        ("neither", 'profile "neither" has role_arn but neither source_profile nor '
                    'credential_source', 7),
        ("badsource", 'credential_source "Laptop" is not one of Environment', 7),
        ("fromempty", 'the source profile "empty" has no credentials', 6),
        ("fromimds", "credential_source Ec2InstanceMetadata found no credentials", 6),
        ("badduration", 'duration_seconds "an hour" is not a number', 7),
        ("denied", "AccessDenied", 6),
        ("mfa", 'profile "mfa" has mfa_serial arn:aws:iam::%s:mfa/dev' % ACCOUNT, 6),
    ]
    for profile, words, status in cases:
        env = env_for(sts)
        r, f = resolve(profile, env)
        check(r.returncode != 0 and f.get("status") == str(status) and
              words in f.get("error", ""),
              "%s: refused with %r (status %d): %r" % (profile, words, status, r.stdout))
        check(BASE_SECRET not in r.stdout + r.stderr, "%s: no secret in the refusal" % profile)
        # botocore asks its prompter for the MFA code, and drops a duration_seconds that is
        # not a number without a word (ecrup refuses it: a surprise is worse than an error).
        if profile not in ("mfa", "badduration"):
            _c, _calls, exc = botocore_calls(sts, profile, env)
            check(exc is not None, "%s: botocore refuses it too (%r)" % (profile, exc))
    r, f = resolve("denied", env_for(sts))
    check(role("denied") in f.get("error", "") and 'profile "base"' in f.get("error", ""),
          "AccessDenied names the role and the source: %r" % f.get("error"))
    sts.stop()


def test_mfa():
    sts = StsEmulator(keys={BASE_KEY: BASE_SECRET})
    r, f = resolve("mfa", env_for(sts, {"CRED_TOOL_MFA": "1", "CRED_TOOL_MFA_CODE": "123456"}))
    serial = "arn:aws:iam::%s:mfa/dev" % ACCOUNT
    check(r.returncode == 0 and f.get("mfa_asked") == serial and
          sts.calls and sts.calls[-1]["serial"] == serial and sts.calls[-1]["code"] == "123456",
          "mfa: the callback's code sent with the serial: %r %r" % (r.stdout, sts.calls[-1:]))
    n = len(sts.calls)
    r, f = resolve("mfa", env_for(sts, {"CRED_TOOL_MFA": "1"}))
    check(r.returncode != 0 and "no MFA code was given for %s" % serial in f.get("error", "")
          and len(sts.calls) == n, "mfa: a refusing callback stops before STS: %r" % r.stdout)

    # The CLI asks on the terminal, echo off, whatever stdout is.
    pid, fd = pty.fork()
    if pid == 0:
        env = env_for(sts)
        os.execve(ECRUP, [ECRUP, "config", "--profile", "mfa"], env)
    seen = b""
    answered = False
    deadline = time.time() + 60
    while time.time() < deadline:
        ready, _w, _x = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"Enter MFA code for " + serial.encode() in seen:
            os.write(fd, b"654321\n")
            answered = True
    _pid, status = os.waitpid(pid, 0)
    os.close(fd)
    check(answered and os.waitstatus_to_exitcode(status) == 0 and
          sts.calls[-1]["code"] == "654321" and b"654321" not in seen,
          "the CLI prompted on the terminal, without echo, and sent the code: %r" % seen[-600:])
    # No terminal: a clear error at once, no hanging.
    r = subprocess.run([ECRUP, "config", "--profile", "mfa"], env=env_for(sts),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       start_new_session=True)
    check(r.returncode != 0 and "no MFA code was given" in r.stderr,
          "without a terminal the CLI says no code was given: %r" % r.stderr)
    sts.stop()


def test_push():
    """upload-layer through an assume-role chain to `ecrup serve --keys`."""
    sts = StsEmulator(keys={BASE_KEY: BASE_SECRET})
    sts.prepare(8)
    keys = os.path.join(HOME, "keys")
    sts.write_keys(keys)
    data = tempfile.mkdtemp(prefix="ecrup-assume-role-data-")
    server = serve.Server(ECRUP, "--keys", keys, "--repository", "sts/assume-role",
                          env=env_for(sts), data_dir=data, remove_data=True)
    try:
        layer = os.path.join(HOME, "layer.bin")
        with open(layer, "wb") as f:
            f.write(os.urandom(300 * 1024))
        env = env_for(sts, {"AWS_ENDPOINT_URL_ECR": server.url, "AWS_PROFILE": "top"})
        r = subprocess.run([ECRUP, "upload-layer", "--json", "--repository", "sts/assume-role",
                            layer], env=env, capture_output=True, text=True, timeout=120)
        check(r.returncode == 0 and '"uploaded"' in r.stdout,
              "upload-layer through a role chain: %r %r" % (r.stdout, r.stderr[-2000:]))
        digest = checks.file_digest(layer)
        check(server.blob_sha(digest) == digest, "the server stored the layer")
        check([c["role_arn"] for c in sts.calls[:3]] == [role("plain"), role("middle"),
                                                         role("top")],
              "the push assumed plain, middle, top: %r" % sts.calls)
        r = subprocess.run([ECRUP, "config", "-v"], env=env, capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 0 and "assume-role" in r.stdout and BASE_SECRET not in r.stdout
              and all(s not in r.stdout for _k, s, _t in sts.issued),
              "ecrup config -v names the assume-role provider: %r" % r.stdout[-1500:])
    finally:
        server.stop()
        sts.stop()


if __name__ == "__main__":
    try:
        import botocore  # noqa: F401
    except ImportError:
        print("botocore missing: skipped")
        sys.exit(77)
    setup()
    test_resolved_like_botocore()
    test_refusals()
    test_mfa()
    test_push()
    shutil.rmtree(HOME, ignore_errors=True)
    sys.exit(checks.finish("test_assume_role"))

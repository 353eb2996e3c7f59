#!/usr/bin/env python3
"""`ecrup config -v` lists every credential provider of the chain, in order, with what each
did: skipped (and why), answered, failed (status name and message), not tried. The list must
survive a failure: an instance metadata endpoint answering 403 used to leave only the error.

Instance metadata is pointed at a loopback stub this script starts. Only the case that needs
IMDS to be asked leaves AWS_EC2_METADATA_DISABLED unset; every other run sets it to true."""
import os
import re
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_config  # noqa: E402

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
requests = []  # (method, path) the stub received
KNOWN = ["explicit", "env", "assume-role", "profile", "container", "imds"]  # some of the chain


class Refusing(BaseHTTPRequestHandler):
    """IMDS that refuses everything: 403 to the token PUT and to the v1 fallback's GET."""

    def log_message(self, *args):
        pass

    def refuse(self):
        requests.append((self.command, self.path))
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = refuse
    do_GET = refuse


def run(home, env_extra, *args):
    """test_config's run(), in the region us-east-1, IMDS disabled unless env_extra says
    AWS_EC2_METADATA_DISABLED=None."""
    return test_config.run(dict({"AWS_REGION": "us-east-1"}, **env_extra), *args, home=home)


def providers(out):
    """The provider lines of the listing: [(name, outcome, rest)] in order."""
    _, _, tail = out.partition("credential providers, in order (the first that answers wins):\n")
    rows = []
    for line in tail.splitlines():
        m = re.match(r"^  (\S+)\s+(skipped|answered|failed|not tried)(?:\s+(.*))?$", line)
        if not m:
            break
        rows.append((m.group(1), m.group(2), m.group(3) or ""))
    return rows


def main():
    home = tempfile.mkdtemp(prefix="ecrup-config-providers-")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    imds = "http://127.0.0.1:%d" % server.server_address[1]
    with open(os.path.join(home, "config"), "w") as f:
        f.write("[profile dev]\nregion = eu-west-1\n")

    # 1. Nothing answers before IMDS, and IMDS refuses: every provider is listed, then the error.
    # (Providers added to the chain later may come between the ones named here.)
    rc, out, err = run(home, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds,
                              "AWS_EC2_METADATA_DISABLED": None}, "-v", "--profile", "dev")
    check(rc == 1, "imds 403: exit %d" % rc)
    check(("PUT", "/latest/api/token") in requests, "the stub was asked for a token: %r" % requests)
    rows = providers(out)
    names = [r[0] for r in rows]
    check([n for n in names if n in KNOWN] == KNOWN, "the known providers, in order: %r" % rows)
    # An HTTP error from IMDS is no credentials, as botocore has it: the chain's last skip.
    check([r[1] for r in rows] == ["skipped"] * len(rows), "outcomes: %r" % rows)
    why = dict((r[0], r[2]) for r in rows)
    check(why.get("explicit") == "explicit: none given", "explicit's reason: %r" % why)
    check('not read, profile "dev" was named' in why.get("env", ""), "env's reason: %r" % why)
    check('"dev" has no role_arn' in why.get("assume-role", ""), "assume-role's reason: %r" % why)
    check(why.get("profile") == 'profile "dev": no aws_access_key_id or credential_process',
          "profile's reason: %r" % why)
    check("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset" in why.get("container", ""),
          "container's reason: %r" % why)
    check(names[-1:] == ["imds"] and re.match(
        r"IMDS at 127\.0\.0\.1(:\d+)?: HTTP 403 to the token and role requests$", why["imds"]),
        "imds's reason names the HTTP status: %r" % rows)
    check("no credentials found; tried explicit: none given;" in err and
          "HTTP 403 to the token and role requests" in err,
          "the error lists the providers, IMDS's answer among them: %r" % err)

    # Without -v the listing is not printed; the error is.
    rc, out, err = run(home, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds,
                              "AWS_EC2_METADATA_DISABLED": None}, "--profile", "dev")
    check(rc == 1 and "credential providers" not in out and "HTTP 403" in err,
          "no listing without -v: %r %r" % (out, err))

    # 2. A middle provider answers: the profile's static keys; later ones are not tried.
    with open(os.path.join(home, "credentials"), "w") as f:
        f.write("[dev]\naws_access_key_id = AKIAEXAMPLEDEV00001\naws_secret_access_key = %s\n"
                % SECRET)
    del requests[:]
    rc, out, err = run(home, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds}, "-v", "--profile", "dev")
    check(rc == 0, "profile: exit %d %s" % (rc, err))
    rows = providers(out)
    names = [r[0] for r in rows]
    at = names.index("profile") if "profile" in names else -1
    check(at > 0 and [n for n in names if n in KNOWN] == KNOWN, "the known ones, in order: %r" % rows)
    check([r[1] for r in rows] == ["skipped"] * at + ["answered"] + ["not tried"] * (len(rows) - at - 1),
          "the profile answers in the middle: %r" % rows)
    check(re.search(r"access key\s+\*+0001\s+profile", out), "the table is unchanged: " + out)
    check(requests == [], "IMDS not asked: %r" % requests)
    check(SECRET not in out + err and SECRET[:16] not in out + err, "no secret printed")

    # 3. credential_process answers through the profile provider: named as such.
    proc = os.path.join(home, "creds.sh")
    with open(proc, "w") as f:
        f.write("#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIAEXAMPLEPROC0001\", "
                "\"SecretAccessKey\": \"%s\"}'\n" % SECRET)
    os.chmod(proc, 0o755)
    with open(os.path.join(home, "config"), "w") as f:
        f.write("[profile proc]\ncredential_process = %s\n" % proc)
    rc, out, err = run(home, {}, "-v", "--profile", "proc")
    rows = providers(out)
    check(rc == 0 and ("profile", "answered", "(as process)") in rows, "process: %r %s" % (rows, err))
    check(SECRET not in out + err, "no secret printed (process)")

    server.shutdown()
    server.server_close()
    return finish("test_config_providers")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`ecrup config` end to end: where each value comes from, and that at its most verbose the CLI
prints no secret (secret key, session token, container authorization token, signature) whatever
provider supplied it. Servers are started here, on loopback."""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402

ECRUP = os.path.join(os.environ["ECRUP_BINARY_DIR"], "ecrup")
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYsecretKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+sessionTOKEN=="
AUTH_TOKEN = "container-authorization-token-0123456789"


class Container(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.headers.get("Authorization") != AUTH_TOKEN:
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps({"AccessKeyId": "AKIDCONTAINER0001", "SecretAccessKey": SECRET,
                           "Token": TOKEN, "Expiration": "2099-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run(env_extra, *args, home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"HOME": home, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.path.join(home, "config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "credentials")})
    env.update(env_extra)
    env = {k: v for k, v in env.items() if v is not None}  # None: leave the variable unset
    p = subprocess.run([ECRUP, "config"] + list(args), env=env, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def no_secrets(out, label):
    for s in (SECRET, TOKEN, AUTH_TOKEN, TOKEN[:20], SECRET[:20]):
        check(s not in out, "%s: a secret leaked (%s...)" % (label, s[:6]))
    for sig in re.findall(r"Signature=(\S+)", out):
        check(sig == "***", "%s: signature printed" % label)


def main():
    home = tempfile.mkdtemp(prefix="ecrup-config-")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Container)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/creds" % server.server_address[1]

    # 1. Environment credentials with a session token; region from the environment.
    rc, out, err = run({"AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT01", "AWS_SECRET_ACCESS_KEY": SECRET,
                        "AWS_SESSION_TOKEN": TOKEN, "AWS_REGION": "eu-west-3"}, "-vv", home=home)
    check(rc == 0, "env: exit %d %s" % (rc, err))
    check(re.search(r"region\s+eu-west-3\s+AWS_REGION", out), "region and its source")
    check("https://api.ecr.eu-west-3.amazonaws.com" in out, "computed endpoint")
    check(re.search(r"access key\s+\*+NT01\s+env", out), "access key masked, provider env")
    check("x-amz-security-token:***" in out, "the token is masked in the canonical request")
    check("Signature=***" in out, "the signature is masked")
    no_secrets(out + err, "env")

    # 2. The shared files: profile region, endpoint_url, static keys; --profile wins.
    with open(os.path.join(home, "config"), "w") as f:
        f.write("[default]\nregion = us-east-1\n\n[profile ci]\nregion = ap-southeast-2\n"
                "endpoint_url = http://127.0.0.1:5000\n")
    with open(os.path.join(home, "credentials"), "w") as f:
        f.write("[ci]\naws_access_key_id = AKIDPROFILECI0001\naws_secret_access_key = %s\n"
                "aws_session_token = %s\n" % (SECRET, TOKEN))
    rc, out, err = run({}, "--profile", "ci", "-vv", home=home)
    check(rc == 0, "profile: exit %d %s" % (rc, err))
    check(re.search(r"region\s+ap-southeast-2\s+profile", out), "region from the profile: " + out)
    check("http://127.0.0.1:5000" in out, "endpoint_url from the profile")
    check("host:127.0.0.1:5000" in out, "Host signed with its port")
    check(re.search(r"access key\s+\*+0001\s+profile", out), "provider profile")
    no_secrets(out + err, "profile")
    rc, out, err = run({"AWS_REGION": "sa-east-1"}, "--profile", "ci", "--region", "us-west-2",
                       home=home)
    check(re.search(r"region\s+us-west-2\s+--region", out), "--region wins: " + out)
    # The profile's services section names ECR's endpoint, over the profile's endpoint_url
    # (botocore's order); a services value naming no section is refused.
    with open(os.path.join(home, "config"), "w") as f:
        f.write("[profile ci]\nregion = ap-southeast-2\nservices = local\n"
                "endpoint_url = http://127.0.0.1:5000\n\n[services local]\n"
                "ecr =\n  endpoint_url = http://127.0.0.1:5001\n\n"
                "[profile lost]\nregion = ap-southeast-2\nservices = nowhere\n")
    rc, out, err = run({}, "--profile", "ci", home=home)
    check(rc == 0 and re.search(r'endpoint\s+http://127.0.0.1:5001\s+services "local" ecr '
                                r'endpoint_url in profile "ci"', out),
          "services section: %r %r" % (out, err))
    rc, out, err = run({"AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT01",
                        "AWS_SECRET_ACCESS_KEY": SECRET}, "--profile", "lost", home=home)
    check(rc == 1 and 'services "nowhere"' in err, "services naming no section: %r" % err)

    # 3. credential_process.
    proc = os.path.join(home, "creds.sh")
    with open(proc, "w") as f:
        f.write("#!/bin/sh\necho '%s'\n" % json.dumps({"Version": 1, "AccessKeyId": "AKIDPROCESS00001",
                                                       "SecretAccessKey": SECRET,
                                                       "SessionToken": TOKEN}))
    os.chmod(proc, 0o755)
    with open(os.path.join(home, "config"), "w") as f:
        f.write("[profile proc]\nregion = us-east-2\ncredential_process = %s\n" % proc)
    os.unlink(os.path.join(home, "credentials"))
    rc, out, err = run({}, "--profile", "proc", "-vv", home=home)
    check(rc == 0 and re.search(r"access key\s+\*+0001\s+process", out), "process: %s %s" % (out, err))
    no_secrets(out + err, "process")

    # 4. Container credentials with an authorization token.
    rc, out, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN": AUTH_TOKEN,
                        "AWS_REGION": "us-east-1"}, "-vv", home=home)
    check(rc == 0 and re.search(r"access key\s+\*+0001\s+container", out), "container: %s %s" % (out, err))
    check("credentials expire: 2099-01-01T00:00:00Z" in out, "expiry shown")
    no_secrets(out + err, "container")

    # 5. Errors name their cause, exit 1, and still leak nothing.
    with open(os.path.join(home, "config"), "w") as f:
        f.write("[default]\nregion = us-east-1\naws_secret_access_key = %s\nnot a setting\n" % SECRET)
    rc, out, err = run({}, home=home)
    check(rc == 1 and os.path.join(home, "config") + ":4" in err, "malformed file: %r" % err)
    no_secrets(out + err, "malformed")
    os.unlink(os.path.join(home, "config"))
    rc, out, err = run({}, home=home)
    check(rc == 1 and "AWS_REGION" in err, "no region: %r" % err)
    rc, out, err = run({"AWS_REGION": "us-east-1"}, home=home)
    check(rc == 1 and "no credentials" in err, "no credentials: %r" % err)

    # 6. Every gap at once (issue 15): the whole table, each missing value marked with what to
    # do, every error on stderr, exit 1; what did resolve is still shown.
    rc, out, err = run({}, home=home)
    check(rc == 1, "nothing set: exit %d" % rc)
    check(re.search(r"^profile\s+default\s", out, re.M), "nothing set: the profile row: %r" % out)
    check(re.search(r"^region\s+\(missing\)\s+pass --region, set AWS_REGION", out, re.M),
          "nothing set: region missing, and how to set it: %r" % out)
    check(re.search(r"^endpoint\s+\(needs a region\)", out, re.M), "nothing set: endpoint row")
    check(re.search(r"^credentials\s+\(missing\)\s+set AWS_ACCESS_KEY_ID and "
                    r"AWS_SECRET_ACCESS_KEY", out, re.M), "nothing set: credentials row: %r" % out)
    check(re.search(r"^tls\s+verified", out, re.M), "nothing set: the tls row is still there")
    check("no AWS region" in err and "no credentials" in err,
          "nothing set: both errors on stderr, not just the first: %r" % err)
    rc, out, err = run({"AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT01", "AWS_SECRET_ACCESS_KEY": SECRET,
                        "AWS_SESSION_TOKEN": TOKEN, "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"},
                       "-vv", home=home)
    check(rc == 1 and re.search(r"^region\s+\(missing\)", out, re.M), "no region: %r" % out)
    check(re.search(r"^endpoint\s+http://127.0.0.1:5000\s+AWS_ENDPOINT_URL", out, re.M),
          "no region: a configured endpoint is still shown: %r" % out)
    check(re.search(r"access key\s+\*+NT01\s+env", out), "no region: credentials still shown")
    check("signing check" not in out, "no region: nothing signed without one")
    no_secrets(out + err, "no region")
    rc, out, err = run({"AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT01", "AWS_SECRET_ACCESS_KEY": SECRET},
                       "--profile", "nosuch", "--region", "eu-west-1", home=home)
    check(rc == 1 and re.search(r"^profile\s+nosuch \(missing\)\s+add it", out, re.M),
          "missing profile marked: %r" % out)
    check(re.search(r"^region\s+eu-west-1\s+--region", out, re.M),
          "missing profile: the region is still resolved: %r" % out)
    check("'nosuch' is not in the shared config" in err, "missing profile: said on stderr: %r" % err)
    with open(os.path.join(home, "config"), "w") as f:
        f.write("[default]\naws_secret_access_key = %s\nnot a setting\n" % SECRET)
    rc, out, err = run({"AWS_REGION": "us-east-1"}, home=home)
    check(rc == 1 and re.search(r"^credentials\s+\(not read\)", out, re.M)
          and os.path.join(home, "config") + ":3" in err, "malformed: table and error: %r %r"
          % (out, err))
    no_secrets(out + err, "malformed, table")
    os.unlink(os.path.join(home, "config"))

    rc, out, err = run({}, "--bogus", home=home)
    check(rc == 2 and "--bogus" in err, "unknown option: %r" % err)

    server.shutdown()
    server.server_close()
    return finish("test_config")


if __name__ == "__main__":
    sys.exit(main())

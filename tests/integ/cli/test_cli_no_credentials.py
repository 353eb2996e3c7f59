#!/usr/bin/env python3
"""An instance metadata service that answers with an HTTP error must not hide the credential
chain: `ecrup upload-layer` and `ecrup push` say "no credentials found" and list every provider
tried with why each gave nothing, IMDS's HTTP status among them, as botocore treats an IMDS
error as no credentials.

IMDS is a loopback stub answering 500 to everything (AWS_EC2_METADATA_SERVICE_ENDPOINT); this is
the one run that leaves AWS_EC2_METADATA_DISABLED unset. The endpoint is a loopback listener
that must receive nothing: without credentials nothing is sent."""
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import check, clean_env, finish, run  # noqa: E402

asked = []  # (method, path) the stub received


class Failing(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def fail(self):
        asked.append((self.command, self.path))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = fail
    do_GET = fail


def main():
    imds = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=imds.serve_forever, daemon=True).start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    tmp = tempfile.mkdtemp(prefix="ecrup-cli-nocreds-")
    layer = os.path.join(tmp, "layer.bin")
    with open(layer, "wb") as f:
        f.write(b"layer bytes")
    env = clean_env(AWS_REGION="us-east-1",
                    AWS_ENDPOINT_URL="http://127.0.0.1:%d" % listener.getsockname()[1],
                    AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:%d" % imds.server_address[1])
    del env["AWS_EC2_METADATA_DISABLED"]
    try:
        r = run(["upload-layer", "--repository", "team/app", layer], env)
        err = r.stderr
        check(r.returncode == 1, "IMDS 500: exit 1 (%d %r)" % (r.returncode, err))
        check(("PUT", "/latest/api/token") in asked and
              ("GET", "/latest/meta-data/iam/security-credentials/") in asked,
              "the stub was asked for a token, then (IMDSv1, as botocore) for the role: %r" % asked)
        check("no credentials found; tried " in err, "the no-credentials error (%r)" % err)
        for reason in ("explicit: none given", "environment: AWS_ACCESS_KEY_ID unset",
                       "assume role:", "web identity:", "sso:", "login:", 'profile "default":',
                       "container:", "HTTP 500 to the token and role requests"):
            check(reason in err, "the error names %r (%r)" % (reason, err))
        check(err.index("container:") < err.index("IMDS at 127.0.0.1"),
              "the providers in the chain's order, IMDS last (%r)" % err)
        check(err.rstrip().endswith("HTTP 500 to the token and role requests"),
              "IMDS's reason is not cut off the end (%r)" % err[-200:])
        check(r.stdout == "", "nothing on stdout but the failure (%r)" % r.stdout)

        # --json: the layer's line carries the same list.
        r = run(["upload-layer", "--json", "--repository", "team/app", layer], env)
        d = json.loads(r.stdout) if r.stdout.count("\n") == 1 else {}
        check(r.returncode == 1 and d.get("error") == "NoCredentials" and
              "HTTP 500 to the token and role requests" in d.get("message", "") and
              "environment: AWS_ACCESS_KEY_ID unset" in d.get("message", ""),
              "--json: NoCredentials with every reason (%r)" % r.stdout)
        try:
            c, _ = listener.accept()
            c.close()
            check(False, "the endpoint was contacted without credentials")
        except socket.timeout:
            check(True, "the endpoint was never contacted")
    finally:
        imds.shutdown()
        imds.server_close()
        listener.close()
        shutil.rmtree(tmp, ignore_errors=True)
    finish("test_cli_no_credentials")


if __name__ == "__main__":
    main()

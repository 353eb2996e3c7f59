#!/usr/bin/env python3
"""engine/request.c over real HTTP: a loopback server re-signs every request it receives with
botocore (an independent SigV4 implementation) and compares, then answers like ECR."""
import hashlib
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import botocore_signature, check, finish  # noqa: E402

TOOL = os.path.join(os.environ["ECRUP_BINARY_DIR"], "tests", "integ", "request", "ecr_call")
AKID = "AKIDREQUESTTEST"
SECRET = "se/cret+key/With+Slash+andPlus0123456789"
TOKEN = "session+token/for/the/request/test=="
REGION = "eu-west-3"
seen = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        token = self.headers.get("X-Amz-Security-Token")
        expected = botocore_signature(self.headers, body, AKID, SECRET, REGION, token)
        got = self.headers["Authorization"]
        record = {
            "target": self.headers["X-Amz-Target"],
            "sig_ok": got.endswith("Signature=" + expected),
            "signed": got.split("SignedHeaders=")[1].split(",")[0],
            "expect": self.headers.get("Expect"),
            "transfer_encoding": self.headers.get("Transfer-Encoding"),
            "body_sha": hashlib.sha256(body).hexdigest(),
            "token": token,
        }
        seen.append(record)
        op = self.headers["X-Amz-Target"].split(".")[-1]
        if not record["sig_ok"]:
            self.reply(403, {"__type": "InvalidSignatureException", "message": "mismatch"})
        elif op == "InitiateLayerUpload":
            self.reply(200, {"uploadId": "u-1", "partSize": 10485760})
        elif op == "UploadLayerPart":
            self.reply(400, {"__type": "InvalidLayerPartException", "message": "out of order",
                             "lastValidByteReceived": 5242879})
        elif op == "CompleteLayerUpload":
            self.reply(400, {"__type": "com.amazonaws.ecr#ThrottlingException",
                             "message": "Rate exceeded"})
        else:
            self.reply(500, {"__type": "ServerException", "message": "boom"})

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_ca(dirname, name):
    """A private CA and a certificate for 127.0.0.1 signed by it (openssl CLI)."""
    ca_key, ca_crt = os.path.join(dirname, name + "-ca.key"), os.path.join(dirname, name + "-ca.pem")
    key, csr, crt = (os.path.join(dirname, name + ext) for ext in (".key", ".csr", ".pem"))
    ext = os.path.join(dirname, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = lambda *a: subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
        "-days", "2", "-subj", "/CN=ecrup test CA " + name)
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


def call(port, op, body, token=None, tls=None):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_SESSION_TOKEN", None)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    url = "%s://127.0.0.1:%d" % ("https" if tls else "http", port)
    extra = [tls] if tls else []
    out = subprocess.run([TOOL, url, "127.0.0.1:%d" % port, REGION, op, "-"] + extra, env=env,
                         input=body, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        sys.exit("ecr_call failed: %s" % out.stderr)
    lines = out.stdout.split("\n")
    head, date = lines[0].split(" date=", 1)
    fields = dict(kv.split("=", 1) for kv in head.split(" "))
    fields["date"] = date
    fields["describe"] = lines[1].split("=", 1)[1]
    fields["reply"] = lines[2]
    return fields


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    r = call(port, "InitiateLayerUpload", '{"repositoryName":"team/app"}')
    check(r["status"] == "200" and r["ok"] == "1", "initiate succeeds: %r" % r)
    check(json.loads(r["reply"])["uploadId"] == "u-1", "initiate reply captured")
    check(r["date"] != "-", "Date header captured for skew correction")
    rec = seen[-1]
    check(rec["sig_ok"], "botocore agrees with the signature")
    check(rec["signed"] == "content-type;host;x-amz-date;x-amz-target", rec["signed"])
    check(rec["expect"] is None, "no Expect: 100-continue")
    check(rec["transfer_encoding"] is None, "body sent with a known length")

    big = json.dumps({"repositoryName": "r", "layerPartBlob": "QUJD" * 400000})
    r = call(port, "UploadLayerPart", big, token=TOKEN)
    rec = seen[-1]
    check(rec["sig_ok"], "signature with a session token and a 1.6 MB body")
    check(rec["token"] == TOKEN, "session token sent")
    check("x-amz-security-token" in rec["signed"], "session token signed")
    check(rec["expect"] is None and rec["transfer_encoding"] is None, "large body: no Expect, not chunked")
    check(rec["body_sha"] == hashlib.sha256(big.encode()).hexdigest(), "body arrives intact")
    check(r["exception"] == "InvalidLayerPartException" and r["retry"] == "0",
          "InvalidLayerPartException is not retried blindly: %r" % r)
    check("out of order" in r["describe"] and "HTTP 400" in r["describe"], r["describe"])

    r = call(port, "CompleteLayerUpload", "{}")
    check(r["exception"] == "ThrottlingException" and r["retry"] == "2", "throttling: %r" % r)
    r = call(port, "PutImage", "{}")
    check(r["status"] == "500" and r["retry"] == "1", "5xx is transient: %r" % r)

    # HTTPS with a private CA: trusted when given, refused with a clear TLS error otherwise,
    # and not retried (a certificate does not get better by asking again).
    tmp = tempfile.mkdtemp(prefix="ecrup-tls-")
    ca, crt, key = make_ca(tmp, "good")
    other_ca, _, _ = make_ca(tmp, "other")
    tls_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    tls_server.socket = ctx.wrap_socket(tls_server.socket, server_side=True)
    tls_port = tls_server.server_address[1]
    threading.Thread(target=tls_server.serve_forever, daemon=True).start()
    r = call(tls_port, "InitiateLayerUpload", "{}", tls=ca)
    check(r["ok"] == "1" and seen[-1]["sig_ok"], "HTTPS with the private CA: %r" % r)
    r = call(tls_port, "InitiateLayerUpload", "{}", tls=other_ca)
    check(r["ok"] == "0" and r["retry"] == "0" and "certificate" in r["describe"].lower(),
          "wrong CA refused clearly: %r" % r)
    r = call(tls_port, "InitiateLayerUpload", "{}", tls="-insecure")
    check(r["ok"] == "1", "verification off only when asked: %r" % r)
    tls_server.shutdown()
    tls_server.server_close()

    server.shutdown()
    server.server_close()
    # Nothing listening: a transport error, classified transient.
    r = call(port, "InitiateLayerUpload", "{}")
    check(r["ok"] == "0" and r["retry"] == "1" and "curl error" in r["describe"],
          "connection refused: %r" % r)

    return finish("test_request")


if __name__ == "__main__":
    sys.exit(main())

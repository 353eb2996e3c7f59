#!/usr/bin/env python3
"""`ecrup serve` against what a hostile probe tried (issue 16, "Durability and bad input"),
over loopback with raw sockets and boto3:
- a part whose connection stalls mid-body: a retry of the same part takes the upload over at
  once instead of being refused "being received" until the HTTP timeout, and what the
  stalled one sends later is discarded.
Nothing leaves 127.0.0.1."""
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402
from test_server import AKID, SECRET, MiB, Server, digest, error_of  # noqa: E402

TARGET = "AmazonEC2ContainerRegistry_V20150921."


def raw_request(url, target, body):
    """The bytes of a POST / signed by botocore for `body`, headers then body."""
    h = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + target}
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body, headers=h)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(AKID, SECRET), "ecr",
                            "us-east-1").add_auth(req)
    host = urllib.parse.urlparse(url).netloc
    head = "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (host, len(body))
    head += "".join("%s: %s\r\n" % (k, v) for k, v in req.headers.items()
                    if k.lower() not in ("host", "content-length"))
    return head.encode() + b"\r\n", body


def connect(url):
    u = urllib.parse.urlparse(url)
    return socket.create_connection((u.hostname, u.port), timeout=30)


def read_reply(s):
    """(status, parsed JSON body) of one HTTP/1.1 reply on socket s."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return 0, {}
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, json.loads(rest[:length] or b"{}")


def part_body(repo, uid, first, blob):
    import base64
    return json.dumps({"repositoryName": repo, "uploadId": uid, "partFirstByte": first,
                       "partLastByte": first + len(blob) - 1,
                       "layerPartBlob": base64.b64encode(blob).decode()}).encode()


def test_stalled_part(srv, c):
    c.create_repository(repositoryName="stalled")
    uid = c.initiate_layer_upload(repositoryName="stalled")["uploadId"]
    junk = b"\xaa" * MiB
    head, body = raw_request(srv.url, "UploadLayerPart", part_body("stalled", uid, 0, junk))
    stalled = connect(srv.url)
    try:
        stalled.sendall(head + body[:len(body) // 2])
        time.sleep(0.5)  # the server has the blob's first half: it writes into the upload
        good = os.urandom(MiB)
        t0 = time.monotonic()
        r = error_of(c.upload_layer_part, repositoryName="stalled", uploadId=uid, partFirstByte=0,
                     partLastByte=len(good) - 1, layerPartBlob=good)
        took = time.monotonic() - t0
        check(r == {} and took < 3,
              "a retry of a stalled part takes the upload over (%.1f s, %s)"
              % (took, r.get("Error")))
        # The stalled client wakes up and sends the rest: refused, its bytes discarded.
        stalled.sendall(body[len(body) // 2:])
        status, reply = read_reply(stalled)
        check(status == 400 and reply.get("__type") == "InvalidLayerPartException" and
              "took it over" in reply.get("message", "") and
              reply.get("lastValidByteReceived") == len(good) - 1,
              "the part taken over is refused when its body ends (%d %s)" % (status, reply))
        r = error_of(c.complete_layer_upload, repositoryName="stalled", uploadId=uid,
                     layerDigests=[digest(good)])
        check(r == {}, "the layer is the retry's bytes (%s)" % r.get("Error"))
        with open(os.path.join(srv.data, "blobs", "sha256", digest(good)[7:]), "rb") as f:
            check(f.read() == good, "the store holds the retry's bytes")
    finally:
        stalled.close()


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-hostile-")
    srv = None
    try:
        srv = Server("--data-dir", os.path.join(tmp, "data"))
        srv.data = os.path.join(tmp, "data")
        c = srv.client()
        test_stalled_part(srv, c)
        srv.stop()
        srv = None
    finally:
        if srv:
            srv.proc.kill()
            srv.proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("test_serve_hostile")


if __name__ == "__main__":
    sys.exit(main())

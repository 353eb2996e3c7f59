#!/usr/bin/env python3
"""Measure how fast `ecrup serve --sink` absorbs UploadLayerPart bodies (not a test: a tool).

Usage: sink_throughput.py [ECRUP_BINARY] [--parts N] [--connections C]
Starts the server in sink mode on a free loopback port, sends N parts of 10 MiB (~14 MB
bodies) per connection over keep-alive, and prints the body throughput and the server's CPU
time. Bodies carry a well-formed Authorization header with a dummy signature: in sink mode
the server checks the key and the date of UploadLayerPart but does not hash the body.
"""
import base64, json, os, socket, subprocess, sys, threading, time

binary = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else \
    os.path.join(os.environ.get("ECRUP_BINARY_DIR", "build"), "ecrup")
parts = int(sys.argv[sys.argv.index("--parts") + 1]) if "--parts" in sys.argv else 200
conns = int(sys.argv[sys.argv.index("--connections") + 1]) if "--connections" in sys.argv else 1

env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY="benchsecret",
           AWS_EC2_METADATA_DISABLED="true")
srv = subprocess.Popen([binary, "serve", "--sink", "--listen", "127.0.0.1:0", "--repository", "bench"],
                       env=env, stdout=subprocess.PIPE, text=True)
url = srv.stdout.readline().split()[-1]
host, port = url.split("//")[1].split(":")
port = int(port)
part = 10 * 1024 * 1024
blob = base64.b64encode(os.urandom(part))


def headers(target, length):
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDBENCH/%s/us-east-1/ecr/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s" % (date[:8], "0" * 64))
    return ("POST / HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/x-amz-json-1.1\r\n"
            "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.%s\r\nX-Amz-Date: %s\r\n"
            "Authorization: %s\r\nContent-Length: %d\r\n\r\n" % (host, port, target, date, auth, length)).encode()


def read_reply(sock, buf):
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    while len(rest) < length:
        rest += sock.recv(65536)
    status = int(head.split(b" ")[1])
    return status, json.loads(rest[:length]), rest[length:]


def initiate(sock):
    body = b'{"repositoryName":"bench"}'
    # Signed for real would need the secret; small requests are verified, so sign with botocore.
    import botocore.auth, botocore.awsrequest, botocore.credentials
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.InitiateLayerUpload"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("AKIDBENCH", "benchsecret"), "ecr",
                            "us-east-1").add_auth(req)
    p = req.prepare()
    head = "POST / HTTP/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in p.headers.items()) + \
        "Content-Length: %d\r\n\r\n" % len(body)
    sock.sendall(head.encode() + body)
    status, reply, _ = read_reply(sock, b"")
    assert status == 200, reply
    return reply["uploadId"]


results = []


def run():
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    upload = initiate(sock)
    sent = 0
    for i in range(parts):
        first = i * part
        prefix = ('{"repositoryName":"bench","uploadId":"%s","partFirstByte":%d,"partLastByte":%d,'
                  '"layerPartBlob":"' % (upload, first, first + part - 1)).encode()
        suffix = b'"}'
        length = len(prefix) + len(blob) + len(suffix)
        sock.sendall(headers("UploadLayerPart", length) + prefix)
        sock.sendall(blob)
        sock.sendall(suffix)
        status, reply, rest = read_reply(sock, b"")
        assert status == 200, reply
        sent += length
    results.append(sent)
    sock.close()


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


cpu0 = cpu_of(srv.pid)
t0 = time.perf_counter()
threads = [threading.Thread(target=run) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - t0
cpu = cpu_of(srv.pid) - cpu0
total = sum(results)
srv.terminate()
srv.wait()
print("sink: %d connection(s), %d parts of 10 MiB each: %.2f GB of body in %.2f s = %.2f GB/s; "
      "server CPU %.2f s (%.0f%% of one core, %.2f CPU-s per GB)"
      % (conns, parts, total / 1e9, wall, total / 1e9 / wall, cpu, 100 * cpu / wall, cpu / (total / 1e9)))

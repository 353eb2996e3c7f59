#!/usr/bin/env python3
"""`ecrup serve` against what a hostile probe tried (issue 16, "Durability and bad input"),
over loopback with raw sockets and boto3:
- a part whose connection stalls mid-body: a retry of the same part takes the upload over at
  once instead of being refused "being received" until the HTTP timeout, and what the
  stalled one sends later is discarded;
- abandoned uploads: one idle past --upload-expiry is forgotten (UploadNotFoundException) and
  its files removed, while one that keeps sending parts lives on, and on a server nobody calls; at start, uploads idle past
  the expiry before the restart and what a crash leaves (`<id>.data` without its state,
  `*.tmp`) are removed;
- NUL in a tag, a manifest or any member (cJSON would cut the string: "a\\u0000evil" stored as
  "a"): InvalidParameterException naming the member, nothing stored; media types bounded
  (255 characters, TYPE/SUBTYPE), given or read from the manifest; BatchGetImage tags held to
  ImageTag's 300 characters;
- slowloris: 300 connections from one client address (127.0.0.2) each sending one header
  line: a request from another address is served at once, and the server's threads and
  resident memory stay bounded (/proc/PID/status); a connection that sends nothing more is
  closed after the idle timeout (30 s);
- repository names of 247 to 256 characters made by `serve --repository`, used and kept across
  a restart; a --repository the store cannot take stops the start, saying why;
- PutImageTagMutability (boto3 and the aws CLI): MUTABLE, IMMUTABLE and the *_WITH_EXCLUSION
  settings with WILDCARD filters deciding which tags PutImage may move, the model's refusals,
  the setting kept in the repository's journal.
Nothing leaves 127.0.0.1."""
import json
import os
import resource
import shutil
import signal
import subprocess
import socket
import sys
import tempfile
import time
import urllib.parse
import zlib

import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402
from test_server import (AKID, SECRET, MiB, Server, digest, error_of,  # noqa: E402
                         manifest_for, signed_raw)
from test_server_ops import push  # noqa: E402

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


def upload_files(data, uid):
    return [f for f in os.listdir(os.path.join(data, "uploads")) if f.startswith(uid)]


def test_expiry(tmp):
    data = os.path.join(tmp, "expiry")
    srv = Server("--data-dir", data, "--repository", "idle")
    c = srv.client()
    old = c.initiate_layer_upload(repositoryName="idle")["uploadId"]
    c.upload_layer_part(repositoryName="idle", uploadId=old, partFirstByte=0, partLastByte=9,
                        layerPartBlob=b"0123456789")
    srv.stop()
    # The upload was last touched two days ago; a crash left files no state names.
    day2 = time.time() - 2 * 86400
    os.utime(os.path.join(data, "uploads", old + ".json"), (day2, day2))
    orphan = "0b6f3c1e-2f0a-4c4e-9a57-3f1f7a5d9e21"
    leftovers = [os.path.join(data, "uploads", orphan + ".data"),
                 os.path.join(data, "uploads", orphan + ".json.tmp"),
                 os.path.join(data, "repos", "idle.json.tmp"),
                 os.path.join(data, "manifests", "ab" * 32 + ".tmp")]
    for f in leftovers:
        with open(f, "wb") as out:
            out.write(b"left by a crash")

    srv = Server("--data-dir", data, "--upload-expiry", "3")
    try:
        c = srv.client()
        check(upload_files(data, old) == [], "an upload idle past the expiry is removed at start")
        check(not [f for f in leftovers if os.path.exists(f)],
              "leftovers of a crash are swept at start: %s" %
              [f for f in leftovers if os.path.exists(f)])
        r = error_of(c.upload_layer_part, repositoryName="idle", uploadId=old, partFirstByte=10,
                     partLastByte=10, layerPartBlob=b"x")
        check(r.get("Error", {}).get("Code") == "UploadNotFoundException",
              "an expired upload is not found (%s)" % r.get("Error"))
        # One upload abandoned, one alive: a part every 2 s keeps it.
        gone = c.initiate_layer_upload(repositoryName="idle")["uploadId"]
        c.upload_layer_part(repositoryName="idle", uploadId=gone, partFirstByte=0,
                            partLastByte=2, layerPartBlob=b"abc")
        alive = c.initiate_layer_upload(repositoryName="idle")["uploadId"]
        blob = os.urandom(30)
        for i in range(3):
            time.sleep(1.6)
            c.upload_layer_part(repositoryName="idle", uploadId=alive, partFirstByte=i * 10,
                                partLastByte=i * 10 + 9, layerPartBlob=blob[i * 10:i * 10 + 10])
        check(upload_files(data, gone) == [], "an abandoned upload's files are removed")
        r = error_of(c.complete_layer_upload, repositoryName="idle", uploadId=gone,
                     layerDigests=[digest(b"abc")])
        check(r.get("Error", {}).get("Code") == "UploadNotFoundException",
              "CompleteLayerUpload of an expired upload: UploadNotFoundException (%s)"
              % r.get("Error"))
        check(len(upload_files(data, alive)) == 2, "an upload that keeps sending parts stays")
        # With no request at all, an abandoned upload still goes once its time is up.
        quiet = c.initiate_layer_upload(repositoryName="idle")["uploadId"]
        c.upload_layer_part(repositoryName="idle", uploadId=quiet, partFirstByte=0,
                            partLastByte=2, layerPartBlob=b"abc")
        t0 = time.monotonic()
        while upload_files(data, quiet) and time.monotonic() - t0 < 10:
            time.sleep(0.2)
        took = time.monotonic() - t0
        check(not upload_files(data, quiet) and 2.5 < took < 6,
              "an upload abandoned on a server nobody calls is removed after its expiry "
              "(%.1f s)" % took)
        srv.stop()
        srv = None
    finally:
        if srv:
            srv.kill()


def code_and_message(r):
    e = r.get("Error", {})
    return e.get("Code"), e.get("Message", "")


def test_bad_input(srv, c):
    c.create_repository(repositoryName="nul")
    a, m, _ = push(c, "nul", [b"layer of a"], ["a"])
    b, mb, _ = push(c, "nul", [b"layer of b"], [], config=b'{"os":"b"}')
    code, msg = code_and_message(error_of(c.put_image, repositoryName="nul", imageManifest=mb,
                                          imageTag="a\x00evil"))
    check(code == "InvalidParameterException" and "imageTag" in msg,
          "a tag with a NUL is refused naming imageTag (%s %s)" % (code, msg))
    tags = {i.get("imageTag"): i["imageDigest"]
            for i in c.list_images(repositoryName="nul")["imageIds"]}
    check(tags.get("a") == a and "a\x00evil" not in tags,
          "tag 'a' still names its image: %s" % tags)
    code, msg = code_and_message(error_of(c.batch_delete_image, repositoryName="nul",
                                          imageIds=[{"imageTag": "a\x00x"}]))
    check(code == "InvalidParameterException" and "imageIds" in msg,
          "BatchDeleteImage of a tag with a NUL is refused (%s %s)" % (code, msg))
    check("a" in {i.get("imageTag") for i in c.list_images(repositoryName="nul")["imageIds"]},
          "and tag 'a' is not deleted in its place")
    code, msg = code_and_message(error_of(c.batch_get_image, repositoryName="nul",
                                          imageIds=[{"imageTag": "t" * 301}]))
    check(code == "InvalidParameterException",
          "BatchGetImage holds tags to ImageTag's 300 characters (%s %s)" % (code, msg))
    # A manifest with a NUL: raw in the text, or escaped inside the manifest's own JSON.
    doc = json.loads(mb)
    for label, text in (("raw", mb[:-1] + ', "x": "\x00"}'),
                        ("escaped", json.dumps(dict(doc, annotations={"k": "v\x00evil"})))):
        code, msg = code_and_message(error_of(c.put_image, repositoryName="nul",
                                              imageManifest=text, imageTag="nul-" + label))
        check(code == "InvalidParameterException" and "imageManifest" in msg,
              "a manifest with a NUL (%s) is refused (%s %s)" % (label, code, msg))
    # A NUL in a key, and in a repository name, through raw requests.
    r = signed_raw(srv.url, "ListImages", b'{"repositoryName":"nul","fil\\u0000ter":{}}')
    check(r.status_code == 400 and r.json().get("__type") == "SerializationException",
          "a NUL in a key: SerializationException (%s)" % r.text)
    r = signed_raw(srv.url, "ListImages", b'{"repositoryName":"nul\\u0000x"}')
    check(r.status_code == 400 and r.json().get("__type") == "InvalidParameterException" and
          "repositoryName" in r.json().get("message", ""),
          "a NUL in repositoryName: InvalidParameterException naming it (%s)" % r.text)
    # Media types: bounded, given or read from the manifest.
    for bad in ("x" * (4 * MiB), "application/" + "x" * 250, "no-slash", "a/b c", "a/b\n"):
        code, msg = code_and_message(error_of(c.put_image, repositoryName="nul",
                                              imageManifest=mb, imageTag="mt",
                                              imageManifestMediaType=bad))
        check(code == "InvalidParameterException" and "imageManifestMediaType" in msg,
              "imageManifestMediaType %r... refused (%s)" % (bad[:20], code))
    big = json.dumps(dict(doc, mediaType="application/" + "y" * 1000))
    code, msg = code_and_message(error_of(c.put_image, repositoryName="nul", imageManifest=big,
                                          imageTag="big"))
    check(code == "InvalidParameterException" and "mediaType" in msg,
          "a manifest whose own mediaType is 1000 characters is refused (%s %s)" % (code, msg))
    ok = error_of(c.put_image, repositoryName="nul", imageManifest=mb, imageTag="b",
                  imageManifestMediaType="application/vnd.oci.image.manifest.v1+json")
    check(ok == {}, "a real media type is taken (%s)" % ok.get("Error"))
    d = c.describe_images(repositoryName="nul", imageIds=[{"imageTag": "b"}])["imageDetails"]
    check(d and d[0]["imageDigest"] == b, "tag b names image b")
    size = sum(os.path.getsize(os.path.join(srv.data, "repos", "nul" + ext))
               for ext in (".json", ".log"))
    check(size < 4096, "the repository's state and journal stayed small (%d bytes)" % size)


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()[0] if v.split() else ""
    return int(fields["Threads"]), int(fields["VmRSS"]) * 1024


def header_line(url, source):
    u = urllib.parse.urlparse(url)
    s = socket.socket()
    s.bind((source, 0))
    s.connect((u.hostname, u.port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: %s\r\n" % u.netloc.encode())
    return s


def test_slowloris(srv, idle, idle_since):
    flood = []
    try:
        for _ in range(300):
            flood.append(header_line(srv.url, "127.0.0.2"))
        time.sleep(1.5)  # the server has accepted (and refused) what it will
        threads, rss = proc_status(srv.proc.pid)
        check(threads <= 128 + 16,
              "300 idle connections from one address hold at most its share of threads (%d)"
              % threads)
        check(rss < 64 * MiB, "and the server's memory stays small (%d MiB)" % (rss // MiB))
        t0 = time.monotonic()
        r = error_of(srv.client().describe_repositories)
        check(r == {} and time.monotonic() - t0 < 5,
              "a request from another address is served meanwhile (%s)" % r.get("Error"))
    finally:
        for s in flood:
            s.close()
    # The connection that sent one header line is closed once idle for 30 s.
    idle.settimeout(max(1, 40 - (time.monotonic() - idle_since)))
    try:
        got = idle.recv(4096)
    except ConnectionResetError:
        got = b""
    except socket.timeout:
        got = None
    took = time.monotonic() - idle_since
    check(got == b"" and 25 < took < 40,
          "a connection idle in its headers is closed after 30 s (%r after %.0f s)" % (got, took))
    idle.close()


def test_long_names(tmp):
    data = os.path.join(tmp, "long")
    names = ["a" * 126 + "/" + "b" * 129, "c" * 247, "d" * 120 + "-" + "e" * 126 + "/f"]
    check([len(n) for n in names] == [256, 247, 249], "the names are as long as meant")
    srv = Server("--data-dir", data, *[a for n in names for a in ("--repository", n)])
    try:
        c = srv.client()
        got = {r["repositoryName"] for r in c.describe_repositories()["repositories"]}
        check(got == set(names), "serve --repository makes names of 247-256 characters")
        d = None
        for n in names:
            d, _, _ = push(c, n, [b"long " + n.encode()], ["v1"])
        srv.stop()
        srv = Server("--data-dir", data)
        c = srv.client()
        got = {r["repositoryName"] for r in c.describe_repositories()["repositories"]}
        check(got == set(names), "and they survive a restart (%d of 3)" % len(got & set(names)))
        ids = c.list_images(repositoryName=names[-1])["imageIds"]
        check(ids == [{"imageDigest": d, "imageTag": "v1"}], "with their images: %s" % ids)
        srv.stop()
        srv = None
    finally:
        if srv:
            srv.kill()

    # A store that cannot take the repository (a file size limit of one byte on the server):
    # the start fails, naming the repository and the cause.
    def tiny_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_EC2_METADATA_DISABLED="true")
    p = subprocess.Popen([os.path.join(os.environ.get("ECRUP_BINARY_DIR", "build"), "ecrup"),
                          "serve", "--listen", "127.0.0.1:0", "--data-dir",
                          os.path.join(tmp, "tiny"), "--repository", "cannot/make"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=tiny_disk)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    check(p.returncode not in (0, None) and "listening" not in out and
          "cannot create --repository 'cannot/make'" in err and "File too large" in err,
          "a --repository the store cannot take stops the start (rc %s, %r)"
          % (p.returncode, err.strip()[-200:]))


def repo_setting(data, name):
    """A repository's setting as stored: its state file, then its journal's records (each
    checked against its length and CRC-32) in order."""
    with open(os.path.join(data, "repos", name + ".json")) as f:
        state = json.load(f)
    with open(os.path.join(data, "repos", name + ".log"), "rb") as f:
        log = f.read()
    at = 0
    while at + 19 <= len(log):
        n, crc = int(log[at:at + 8], 16), int(log[at + 9:at + 17], 16)
        rec = log[at + 18:at + 18 + n]
        check(zlib.crc32(rec) == crc and log[at + 18 + n:at + 19 + n] == b"\n",
              "a whole journal record at %d" % at)
        change = json.loads(rec)
        if change["op"] == "setMutability":
            state["imageTagMutability"] = change["imageTagMutability"]
            state["imageTagMutabilityExclusionFilters"] = change.get(
                "imageTagMutabilityExclusionFilters")
        at += 19 + n
    return state


def expect(fn, code, what, **kw):
    got, msg = code_and_message(error_of(fn, **kw))
    check(got == code, "%s: %s, got %s %s" % (what, code, got, msg))


def test_tag_mutability(srv, c, tmp):
    c.create_repository(repositoryName="mut")
    a, ma, _ = push(c, "mut", [b"mut a"], ["v1", "dev-1"])
    b, mb, _ = push(c, "mut", [b"mut b"], [], config=b'{"os":"mb"}')
    r = c.put_image_tag_mutability(repositoryName="mut", imageTagMutability="IMMUTABLE")
    check(r["imageTagMutability"] == "IMMUTABLE" and r["repositoryName"] == "mut" and
          r["registryId"] == "123456789012" and "imageTagMutabilityExclusionFilters" not in r,
          "PutImageTagMutability IMMUTABLE answers as the model says: %s" % r)
    expect(c.put_image, "ImageTagAlreadyExistsException", "IMMUTABLE keeps v1",
           repositoryName="mut", imageManifest=mb, imageTag="v1")
    rep = c.describe_repositories(repositoryNames=["mut"])["repositories"][0]
    check(rep["imageTagMutability"] == "IMMUTABLE", "DescribeRepositories shows the setting")
    dev = [{"filterType": "WILDCARD", "filter": "dev-*"}]
    r = c.put_image_tag_mutability(repositoryName="mut", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                   imageTagMutabilityExclusionFilters=dev)
    check(r.get("imageTagMutabilityExclusionFilters") == dev, "the filters come back: %s" % r)
    check(error_of(c.put_image, repositoryName="mut", imageManifest=mb, imageTag="dev-1") == {},
          "IMMUTABLE_WITH_EXCLUSION moves a tag its filter excepts")
    expect(c.put_image, "ImageTagAlreadyExistsException", "and keeps the others",
           repositoryName="mut", imageManifest=mb, imageTag="v1")
    c.put_image_tag_mutability(repositoryName="mut", imageTagMutability="MUTABLE_WITH_EXCLUSION",
                               imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD",
                                                                    "filter": "v*"}])
    check(error_of(c.put_image, repositoryName="mut", imageManifest=ma, imageTag="dev-1") == {},
          "MUTABLE_WITH_EXCLUSION moves a tag its filter does not name")
    expect(c.put_image, "ImageTagAlreadyExistsException", "and keeps those it names",
           repositoryName="mut", imageManifest=mb, imageTag="v1")
    state = repo_setting(srv.data, "mut")
    check(state["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION" and
          state["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD",
                                                           "filter": "v*"}],
          "the setting is in the repository's state: %s" % state)
    c.put_image_tag_mutability(repositoryName="mut", imageTagMutability="MUTABLE")
    check(error_of(c.put_image, repositoryName="mut", imageManifest=mb, imageTag="v1") == {},
          "MUTABLE moves any tag")
    for kw, what in (({"imageTagMutability": "FROZEN"}, "an unknown setting"),
                     ({}, "no setting"),
                     ({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"}, "no filters"),
                     ({"imageTagMutability": "MUTABLE", "imageTagMutabilityExclusionFilters": dev},
                      "filters without *_WITH_EXCLUSION"),
                     ({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                       "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD",
                                                               "filter": "a b"}]},
                      "a filter outside the pattern"),
                     ({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                       "imageTagMutabilityExclusionFilters": dev * 6}, "six filters")):
        expect(c.put_image_tag_mutability, "InvalidParameterException", what,
               repositoryName="mut", **kw)
    expect(c.put_image_tag_mutability, "RepositoryNotFoundException", "a missing repository",
           repositoryName="nope", imageTagMutability="MUTABLE")
    home = os.path.join(tmp, "aws-home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true",
               HOME=home, AWS_CONFIG_FILE=os.path.join(home, "config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"))
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    r = subprocess.run(["aws", "ecr", "--endpoint-url", srv.url, "--output", "json",
                        "put-image-tag-mutability", "--repository-name", "mut",
                        "--image-tag-mutability", "IMMUTABLE"], env=env, capture_output=True,
                       text=True, timeout=60)
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    check(out.get("imageTagMutability") == "IMMUTABLE",
          "aws ecr put-image-tag-mutability (%s)" % r.stderr.strip()[-200:])


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-hostile-")
    srv = None
    flood_srv = Server()
    idle, idle_since = header_line(flood_srv.url, "127.0.0.3"), time.monotonic()
    try:
        srv = Server("--data-dir", os.path.join(tmp, "data"))
        srv.data = os.path.join(tmp, "data")
        c = srv.client()
        test_stalled_part(srv, c)
        test_bad_input(srv, c)
        test_tag_mutability(srv, c, tmp)
        srv.stop()
        srv = None
        test_expiry(tmp)
        test_long_names(tmp)
        test_slowloris(flood_srv, idle, idle_since)
        flood_srv.stop()
        flood_srv = None
    finally:
        for s in (srv, flood_srv):
            if s:
                s.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("test_serve_hostile")


if __name__ == "__main__":
    sys.exit(main())

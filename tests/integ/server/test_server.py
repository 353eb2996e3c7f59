#!/usr/bin/env python3
"""`ecrup serve` driven by real clients (boto3, the aws CLI, raw HTTP) over loopback.

Every operation and every error of the local ECR endpoint, SigV4 refusals, a restart on the
same data directory (an upload in progress included), concurrent uploads, sink mode, faults
and HTTPS. The server is started and stopped here; nothing leaves 127.0.0.1.
"""
import base64
import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402
import serve  # noqa: E402

BIN = os.path.join(os.environ.get("ECRUP_BINARY_DIR", "build"), "ecrup")
AKID, SECRET = "AKIDECRUPTEST0000001", "ecrup-test-secret-key/0123456789abcdefghij"
MiB = 1024 * 1024


class Server(serve.Server):
    def __init__(self, *args, env_extra=None, keys=True):
        env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        if keys:
            env.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
        env.update(env_extra or {})
        super().__init__(BIN, *args, env=env, notes=0 if keys else 4)

    def client(self, akid=AKID, secret=SECRET, retries=0, verify=None):
        cfg = botocore.config.Config(retries={"max_attempts": retries + 1, "mode": "standard"},
                                     read_timeout=60, parameter_validation=False)
        return boto3.client("ecr", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=akid, aws_secret_access_key=secret, config=cfg,
                            verify=verify)


def error_of(fn, **kw):
    """Call fn(**kw) and return the botocore error response ({} when it succeeded)."""
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response
    return {}


def expect_error(fn, code, status=400, **kw):
    r = error_of(fn, **kw)
    got = r.get("Error", {}).get("Code")
    check(got == code, "%s(%s) -> %s, got %s %s" % (fn.__name__, list(kw), code, got,
                                                   r.get("Error", {}).get("Message")))
    if r:
        check(r["ResponseMetadata"]["HTTPStatusCode"] == status,
              "%s status %d, got %d" % (code, status, r["ResponseMetadata"]["HTTPStatusCode"]))
    return r


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload(c, repo, data, part=5 * MiB):
    """Upload `data` in parts of `part` bytes; return the digest."""
    uid = c.initiate_layer_upload(repositoryName=repo)["uploadId"]
    for off in range(0, len(data), part):
        chunk = data[off:off + part]
        r = c.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=off,
                                partLastByte=off + len(chunk) - 1, layerPartBlob=chunk)
        check(r["lastByteReceived"] == off + len(chunk) - 1, "lastByteReceived after a part")
    d = digest(data)
    r = c.complete_layer_upload(repositoryName=repo, uploadId=uid, layerDigests=[d])
    check(r["layerDigest"] == d and r["uploadId"] == uid, "CompleteLayerUpload echoes the digest")
    return d


def download(c, repo, d):
    url = c.get_download_url_for_layer(repositoryName=repo, layerDigest=d)["downloadUrl"]
    check(url.startswith("http://127.0.0.1:"), "download URL is this server")
    return requests.get(url, timeout=30).content


def signed_raw(url, target, body, akid=AKID, secret=SECRET, headers=None):
    """A raw request signed by botocore (so malformed bodies can be sent)."""
    h = {"Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921." + target}
    h.update(headers or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body, headers=h)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(akid, secret), "ecr",
                            "us-east-1").add_auth(req)
    p = req.prepare()
    return requests.post(url + "/", data=body, headers=dict(p.headers), timeout=60)


def manifest_for(config_d, config_size, layers):
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_d, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d,
                    "size": n} for d, n in layers]})


def test_repositories(srv, c):
    r = c.create_repository(repositoryName="team/app")
    check(r["repository"]["repositoryName"] == "team/app", "CreateRepository")
    check(r["repository"]["registryId"] == "123456789012", "registryId")
    expect_error(c.create_repository, "RepositoryAlreadyExistsException", repositoryName="team/app")
    for bad in ("Upper", "a", "bad..dots", "-lead", "trail-", "x" * 257, "a//b"):
        expect_error(c.create_repository, "InvalidParameterException", repositoryName=bad)
    c.create_repository(repositoryName="immutable", imageTagMutability="IMMUTABLE")
    names = [x["repositoryName"] for x in c.describe_repositories()["repositories"]]
    check(set(names) == {"team/app", "immutable", "pre/made"}, "DescribeRepositories lists all: %s" % names)
    page = c.describe_repositories(maxResults=1)
    check(len(page["repositories"]) == 1 and "nextToken" in page, "DescribeRepositories pages")
    rest = c.describe_repositories(maxResults=10, nextToken=page["nextToken"])["repositories"]
    check(len(rest) == 2 and "nextToken" not in rest, "DescribeRepositories second page")
    one = c.describe_repositories(repositoryNames=["pre/made"])["repositories"]
    check(len(one) == 1 and one[0]["repositoryName"] == "pre/made", "DescribeRepositories by name")
    expect_error(c.describe_repositories, "RepositoryNotFoundException", repositoryNames=["nope"])
    expect_error(c.initiate_layer_upload, "RepositoryNotFoundException", repositoryName="nope")
    expect_error(c.initiate_layer_upload, "InvalidParameterException", repositoryName="No")


def test_layers(srv, c):
    repo = "team/app"
    r = c.initiate_layer_upload(repositoryName=repo)
    check(r["partSize"] == 10485760, "partSize defaults to 10485760")
    layers = {}
    for size, part in ((1, 5 * MiB), (5 * MiB, 5 * MiB), (12 * MiB + 3, 5 * MiB),
                       (21 * MiB + 1, 10 * MiB), (6 * MiB, 6 * MiB - 1)):
        data = os.urandom(size)
        d = upload(c, repo, data, part)
        layers[d] = data
        check(download(c, repo, d) == data, "layer of %d bytes reads back" % size)
    avail = c.batch_check_layer_availability(repositoryName=repo,
                                             layerDigests=list(layers) + ["sha256:" + "0" * 64, "junk"])
    check(len(avail["layers"]) == len(layers) and
          all(l["layerAvailability"] == "AVAILABLE" for l in avail["layers"]),
          "BatchCheckLayerAvailability finds the layers")
    sizes = {l["layerDigest"]: l["layerSize"] for l in avail["layers"]}
    check(all(sizes[d] == len(v) for d, v in layers.items()), "layer sizes")
    codes = sorted(f["failureCode"] for f in avail["failures"])
    check(codes == ["InvalidLayerDigest", "MissingLayerDigest"], "failures: %s" % codes)
    expect_error(c.batch_check_layer_availability, "RepositoryNotFoundException",
                 repositoryName="nope", layerDigests=["sha256:" + "0" * 64])
    # A layer is per repository: not visible in another one.
    d0 = next(iter(layers))
    other = c.batch_check_layer_availability(repositoryName="pre/made", layerDigests=[d0])
    check(other["failures"] and not other["layers"], "layers belong to their repository")
    expect_error(c.get_download_url_for_layer, "LayersNotFoundException", repositoryName="pre/made",
                 layerDigest=d0)
    expect_error(c.get_download_url_for_layer, "InvalidParameterException", repositoryName=repo,
                 layerDigest="notadigest")
    expect_error(c.get_download_url_for_layer, "RepositoryNotFoundException", repositoryName="nope",
                 layerDigest=d0)
    # The same bytes can be pushed to a second repository (the blob store shares them).
    d = upload(c, "pre/made", layers[d0])
    check(download(c, "pre/made", d) == layers[d0], "second repository reads the shared blob")
    return layers


def test_upload_errors(srv, c):
    repo = "team/app"
    data = os.urandom(7 * MiB)
    uid = c.initiate_layer_upload(repositoryName=repo)["uploadId"]
    c.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0,
                        partLastByte=5 * MiB - 1, layerPartBlob=data[:5 * MiB])
    # Not consecutive: a gap, an overlap, a replay.
    for first in (5 * MiB + 1, 5 * MiB - 1, 0):
        r = expect_error(c.upload_layer_part, "InvalidLayerPartException", repositoryName=repo,
                         uploadId=uid, partFirstByte=first, partLastByte=first + 99,
                         layerPartBlob=data[:100])
        check(r.get("lastValidByteReceived") == 5 * MiB - 1, "lastValidByteReceived %s" % r.get("lastValidByteReceived"))
        check(r.get("uploadId") == uid and r.get("repositoryName") == repo and
              r.get("registryId") == "123456789012", "InvalidLayerPartException carries its fields")
    # Byte range does not match the blob.
    expect_error(c.upload_layer_part, "InvalidLayerPartException", repositoryName=repo, uploadId=uid,
                 partFirstByte=5 * MiB, partLastByte=5 * MiB + 10, layerPartBlob=data[:100])
    # Larger than partSize.
    big = os.urandom(10 * MiB + 1)
    expect_error(c.upload_layer_part, "InvalidLayerPartException", repositoryName=repo, uploadId=uid,
                 partFirstByte=5 * MiB, partLastByte=5 * MiB + len(big) - 1, layerPartBlob=big)
    # After the refusals the upload continues where it was.
    c.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=5 * MiB,
                        partLastByte=7 * MiB - 1, layerPartBlob=data[5 * MiB:])
    # Wrong digest, then the right one.
    expect_error(c.complete_layer_upload, "InvalidLayerException", repositoryName=repo, uploadId=uid,
                 layerDigests=[digest(b"other")])
    expect_error(c.complete_layer_upload, "InvalidParameterException", repositoryName=repo,
                 uploadId=uid, layerDigests=["nodigest"])
    expect_error(c.complete_layer_upload, "RepositoryNotFoundException", repositoryName="nope",
                 uploadId=uid, layerDigests=[digest(data)])
    c.complete_layer_upload(repositoryName=repo, uploadId=uid, layerDigests=[digest(data)])
    check(download(c, repo, digest(data)) == data, "layer after refused parts reads back")
    # The completed upload is gone.
    expect_error(c.upload_layer_part, "UploadNotFoundException", repositoryName=repo, uploadId=uid,
                 partFirstByte=7 * MiB, partLastByte=7 * MiB, layerPartBlob=b"x")
    expect_error(c.complete_layer_upload, "UploadNotFoundException", repositoryName=repo,
                 uploadId=str(uuid.uuid4()), layerDigests=[digest(data)])
    expect_error(c.upload_layer_part, "InvalidParameterException", repositoryName=repo,
                 uploadId="not-an-upload-id", partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
    # Same layer again: LayerAlreadyExistsException.
    uid = c.initiate_layer_upload(repositoryName=repo)["uploadId"]
    c.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0,
                        partLastByte=5 * MiB - 1, layerPartBlob=data[:5 * MiB])
    c.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=5 * MiB,
                        partLastByte=7 * MiB - 1, layerPartBlob=data[5 * MiB:])
    expect_error(c.complete_layer_upload, "LayerAlreadyExistsException", repositoryName=repo,
                 uploadId=uid, layerDigests=[digest(data)])
    # Empty upload.
    uid = c.initiate_layer_upload(repositoryName=repo)["uploadId"]
    expect_error(c.complete_layer_upload, "EmptyUploadException", repositoryName=repo, uploadId=uid,
                 layerDigests=[digest(b"")])
    # A part under 5 MiB that is not the last.
    small = os.urandom(2 * MiB)
    c.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0,
                        partLastByte=MiB - 1, layerPartBlob=small[:MiB])
    c.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=MiB,
                        partLastByte=2 * MiB - 1, layerPartBlob=small[MiB:])
    expect_error(c.complete_layer_upload, "LayerPartTooSmallException", repositoryName=repo,
                 uploadId=uid, layerDigests=[digest(small)])
    # Upload of another repository.
    uid = c.initiate_layer_upload(repositoryName="pre/made")["uploadId"]
    expect_error(c.upload_layer_part, "UploadNotFoundException", repositoryName=repo, uploadId=uid,
                 partFirstByte=0, partLastByte=0, layerPartBlob=b"x")


def test_images(srv, c, layers):
    repo = "team/app"
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    cd = upload(c, repo, config)
    lyr = sorted(layers.items())[:2]
    m = manifest_for(cd, len(config), [(d, len(v)) for d, v in lyr])
    r = c.put_image(repositoryName=repo, imageManifest=m, imageTag="v1")
    md = digest(m.encode())
    check(r["image"]["imageId"] == {"imageDigest": md, "imageTag": "v1"}, "PutImage imageId")
    check(r["image"]["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json",
          "media type taken from the manifest")
    expect_error(c.put_image, "ImageAlreadyExistsException", repositoryName=repo, imageManifest=m,
                 imageTag="v1")
    c.put_image(repositoryName=repo, imageManifest=m, imageTag="latest")
    missing = manifest_for(cd, len(config), [("sha256:" + "ab" * 32, 10)])
    expect_error(c.put_image, "LayersNotFoundException", repositoryName=repo, imageManifest=missing,
                 imageTag="broken")
    no_cfg = manifest_for("sha256:" + "cd" * 32, 5, [(d, len(v)) for d, v in lyr])
    expect_error(c.put_image, "LayersNotFoundException", repositoryName=repo, imageManifest=no_cfg)
    expect_error(c.put_image, "ImageDigestDoesNotMatchException", repositoryName=repo,
                 imageManifest=m, imageTag="v2", imageDigest="sha256:" + "00" * 32)
    expect_error(c.put_image, "InvalidParameterException", repositoryName=repo,
                 imageManifest="not json", imageTag="v3")
    expect_error(c.put_image, "RepositoryNotFoundException", repositoryName="nope", imageManifest=m)
    got = c.batch_get_image(repositoryName=repo, imageIds=[
        {"imageTag": "v1"}, {"imageDigest": md}, {"imageTag": "nope"},
        {"imageDigest": "sha256:" + "11" * 32}, {"imageTag": "latest", "imageDigest": md}])
    check(len(got["images"]) == 3 and all(i["imageManifest"] == m for i in got["images"]),
          "BatchGetImage by tag and digest")
    check(sorted(f["failureCode"] for f in got["failures"]) == ["ImageNotFound", "ImageNotFound"],
          "BatchGetImage failures: %s" % got["failures"])
    expect_error(c.batch_get_image, "RepositoryNotFoundException", repositoryName="nope",
                 imageIds=[{"imageTag": "v1"}])
    # Immutable tags.
    d2 = upload(c, "immutable", config)
    for dd, v in lyr:
        upload(c, "immutable", v)
    c.put_image(repositoryName="immutable", imageManifest=m, imageTag="fixed")
    m2 = manifest_for(d2, len(config), [(d, len(v)) for d, v in lyr[:1]])
    expect_error(c.put_image, "ImageTagAlreadyExistsException", repositoryName="immutable",
                 imageManifest=m2, imageTag="fixed")
    return md, m


def test_sigv4(srv, c):
    expect_error(srv.client(secret="wrong-secret").describe_repositories, "InvalidSignatureException", 403)
    expect_error(srv.client(akid="AKIDUNKNOWN000000000").describe_repositories,
                 "UnrecognizedClientException", 403)
    stale = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
        r = expect_error(c.describe_repositories, "InvalidSignatureException", 403)
        check("expired" in r.get("Error", {}).get("Message", "").lower(), "stale date says expired")
    near = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=4)
    with mock.patch("botocore.auth.get_current_datetime", return_value=near):
        check(error_of(c.describe_repositories) == {}, "4 minutes of skew is accepted")
    # Unsigned.
    r = requests.post(srv.url + "/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"}, timeout=10)
    check(r.status_code == 403 and r.json()["__type"] == "MissingAuthenticationTokenException",
          "unsigned request refused: %s" % r.text)
    # A body changed after signing (an UploadLayerPart, whose body is hashed as it streams).
    uid = c.initiate_layer_upload(repositoryName="team/app")["uploadId"]
    body = json.dumps({"repositoryName": "team/app", "uploadId": uid, "partFirstByte": 0,
                       "partLastByte": 2, "layerPartBlob": base64.b64encode(b"abc").decode()})
    h = {"Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.UploadLayerPart"}
    req = botocore.awsrequest.AWSRequest(method="POST", url=srv.url + "/", data=body, headers=h)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(AKID, SECRET), "ecr", "us-east-1").add_auth(req)
    tampered = body.replace(base64.b64encode(b"abc").decode(), base64.b64encode(b"abd").decode())
    r = requests.post(srv.url + "/", data=tampered, headers=dict(req.prepare().headers), timeout=10)
    check(r.status_code == 403 and r.json()["__type"] == "InvalidSignatureException",
          "tampered part body refused: %s" % r.text)
    # ... and not stored: the upload is still empty.
    expect_error(c.complete_layer_upload, "EmptyUploadException", repositoryName="team/app",
                 uploadId=uid, layerDigests=[digest(b"abc")])
    # Session tokens: a server started with one wants it.
    s2 = Server("--sink", env_extra={"AWS_SESSION_TOKEN": "tok-123"})
    try:
        ok = boto3.client("ecr", endpoint_url=s2.url, region_name="us-east-1", aws_access_key_id=AKID,
                          aws_secret_access_key=SECRET, aws_session_token="tok-123")
        check(error_of(ok.describe_repositories) == {}, "session token accepted")
        expect_error(s2.client().describe_repositories, "UnrecognizedClientException", 403)
    finally:
        s2.stop()


def test_robustness(srv, c):
    def raw(target, body):
        return signed_raw(srv.url, target, body)
    cases = [
        ("DescribeRepositories", b"{not json", "SerializationException"),
        ("DescribeRepositories", b"[]", "SerializationException"),
        ("CreateRepository", b"{}", "InvalidParameterException"),
        ("CreateRepository", b'{"repositoryName": 5}', "SerializationException"),
        ("BatchCheckLayerAvailability", b'{"repositoryName":"team/app","layerDigests":"x"}',
         "SerializationException"),
        ("BatchCheckLayerAvailability", b'{"repositoryName":"team/app","layerDigests":[]}',
         "InvalidParameterException"),
        ("NoSuchOperation", b"{}", "UnknownOperationException"),
        ("UploadLayerPart", b'{"repositoryName":"team/app"', "SerializationException"),
        ("UploadLayerPart", b'{"repositoryName":"team/app","uploadId":"%s","partFirstByte":0,'
         b'"partLastByte":0,"layerPartBlob":"!!!!"}' % str(uuid.uuid4()).encode(),
         "SerializationException"),
        ("UploadLayerPart", b'{"repositoryName":"team/app","uploadId":"%s","partFirstByte":"0",'
         b'"partLastByte":0,"layerPartBlob":"YQ=="}' % str(uuid.uuid4()).encode(),
         "SerializationException"),
        ("UploadLayerPart", b'{"repositoryName":"team/app","partFirstByte":0,'
         b'"partLastByte":0,"layerPartBlob":"YQ=="}', "InvalidParameterException"),
    ]
    for target, body, code in cases:
        r = raw(target, body)
        check(r.status_code == 400 and r.json().get("__type") == code,
              "%s %r -> %s, got %d %s" % (target, body[:40], code, r.status_code, r.text[:200]))
    r = raw("InitiateLayerUpload", b'{"repositoryName":"team/app","x":"' + b"a" * (17 * MiB) + b'"}')
    check(r.status_code == 413 and r.json()["__type"] == "SerializationException", "oversized body refused")
    # A declared length far over the limit is refused without reading the body.
    s = socket.create_connection(("127.0.0.1", int(srv.url.rsplit(":", 1)[1])))
    s.settimeout(20)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonEC2ContainerRegistry_V20150921."
              b"UploadLayerPart\r\nContent-Length: 100000000000\r\n\r\n{")
    head = s.recv(65536)
    s.close()
    check(head.startswith(b"HTTP/1.1 413") and b"SerializationException" in head,
          "huge Content-Length refused at once: %r" % head[:200])
    # No target at all.
    r = requests.post(srv.url + "/", data=b"{}", timeout=10)
    check(r.status_code in (400, 403), "no target: %d" % r.status_code)
    # JSON escapes and member order are handled by the streaming part parser.
    uid = c.initiate_layer_upload(repositoryName="pre/made")["uploadId"]
    blob = bytes(range(256)) * 4
    enc = base64.b64encode(blob).decode().replace("/", "\\/")
    body = ('{"layerPartBlob":"%s","unknown":{"a":[1,"}"]},"partLastByte":%d,"partFirstByte":0,'
            '"uploadId":"%s","repositoryName":"pre/made"}' % (enc, len(blob) - 1, uid)).encode()
    r = raw("UploadLayerPart", body)
    check(r.status_code == 200 and r.json()["lastByteReceived"] == len(blob) - 1,
          "escaped blob first: %s" % r.text)
    c.complete_layer_upload(repositoryName="pre/made", uploadId=uid, layerDigests=[digest(blob)])
    check(download(c, "pre/made", digest(blob)) == blob, "escaped blob decoded right")
    # Malformed HTTP: the server answers or closes, and keeps serving.
    for junk in (b"GARBAGE\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
                 b"\x00\xff" * 100 + b"\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", int(srv.url.rsplit(":", 1)[1])))
        s.settimeout(5)
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        try:
            s.recv(4096)
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
    check(error_of(c.describe_repositories) == {}, "server alive after malformed HTTP")
    # The registry API wants Basic credentials (test_serve_pull); download URLs carry their own.
    r = requests.get(srv.url + "/v2/team/app/blobs/sha256:" + "0" * 64, timeout=10)
    check(r.status_code == 401 and "Basic realm=" in r.headers.get("WWW-Authenticate", ""),
          "a blob GET without credentials is 401")
    r = requests.get(srv.url + "/elsewhere", timeout=10)
    check(r.status_code == 404, "a GET outside /v2 is 404")
    r = requests.put(srv.url + "/", data=b"x", timeout=10)
    check(r.status_code == 405, "PUT is refused")


def test_concurrent(srv, c):
    results = {}

    def worker(i):
        cl = srv.client()
        data = os.urandom(11 * MiB + i)
        d = upload(cl, "team/app", data)
        results[i] = (d, data)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(results) == 4, "four concurrent uploads finished")
    for d, data in results.values():
        check(download(c, "team/app", d) == data, "concurrent upload reads back")


def test_cli(srv):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
    base = ["aws", "ecr", "--endpoint-url", srv.url, "--output", "json"]
    r = subprocess.run(base + ["describe-repositories"], env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "team/app" in r.stdout, "aws ecr describe-repositories: %s" % r.stderr)
    r = subprocess.run(base + ["create-repository", "--repository-name", "from-cli"], env=env,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and json.loads(r.stdout)["repository"]["repositoryName"] == "from-cli",
          "aws ecr create-repository")
    r = subprocess.run(base + ["describe-repositories", "--repository-names", "nope"], env=env,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and "RepositoryNotFoundException" in r.stderr, "aws CLI sees the error")
    r = subprocess.run(base + ["batch-check-layer-availability", "--repository-name", "from-cli",
                               "--layer-digests", "sha256:" + "0" * 64], env=env,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and json.loads(r.stdout)["failures"][0]["failureCode"] == "MissingLayerDigest",
          "aws ecr batch-check-layer-availability")


def test_sink():
    s = Server("--sink", "--repository", "bench", "--part-size", "6M")
    try:
        c = s.client()
        uid = c.initiate_layer_upload(repositoryName="bench")
        check(uid["partSize"] == 6 * MiB, "--part-size is returned")
        uid = uid["uploadId"]
        data = os.urandom(5 * MiB + 7)
        c.upload_layer_part(repositoryName="bench", uploadId=uid, partFirstByte=0,
                            partLastByte=5 * MiB - 1, layerPartBlob=data[:5 * MiB])
        r = expect_error(c.upload_layer_part, "InvalidLayerPartException", repositoryName="bench",
                         uploadId=uid, partFirstByte=0, partLastByte=6, layerPartBlob=data[:7])
        check(r.get("lastValidByteReceived") == 5 * MiB - 1, "sink enforces part order")
        c.upload_layer_part(repositoryName="bench", uploadId=uid, partFirstByte=5 * MiB,
                            partLastByte=5 * MiB + 6, layerPartBlob=data[5 * MiB:])
        d = digest(data)
        c.complete_layer_upload(repositoryName="bench", uploadId=uid, layerDigests=[d])
        avail = c.batch_check_layer_availability(repositoryName="bench", layerDigests=[d])
        check(len(avail["layers"]) == 1 and avail["layers"][0]["layerSize"] == len(data),
              "sink remembers the layer's digest and size")
        expect_error(c.get_download_url_for_layer, "LayerInaccessibleException", repositoryName="bench",
                     layerDigest=d)
        big = os.urandom(6 * MiB + 1)
        uid = c.initiate_layer_upload(repositoryName="bench")["uploadId"]
        expect_error(c.upload_layer_part, "InvalidLayerPartException", repositoryName="bench",
                     uploadId=uid, partFirstByte=0, partLastByte=len(big) - 1, layerPartBlob=big)
        expect_error(s.client(secret="bad").initiate_layer_upload, "InvalidSignatureException", 403,
                     repositoryName="bench")
    finally:
        s.stop()


def test_faults():
    s = Server("--repository", "faulty", "--faults",
               "seed=3,delay=1,InitiateLayerUpload:throttle=1,DescribeRepositories:500=1,"
               "BatchGetImage:503=1,CreateRepository:lost=1,PutImage:reset=1")
    try:
        c = s.client()
        expect_error(c.initiate_layer_upload, "ThrottlingException", 400, repositoryName="faulty")
        expect_error(c.describe_repositories, "ServerException", 500)
        r = error_of(c.batch_get_image, repositoryName="faulty", imageIds=[{"imageTag": "x"}])
        check(r.get("ResponseMetadata", {}).get("HTTPStatusCode") == 503, "injected 503")
        try:
            c.create_repository(repositoryName="lost-reply")
            check(False, "a lost reply raises")
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError):
            check(True, "lost reply")
        avail = c.batch_check_layer_availability(repositoryName="lost-reply",
                                                 layerDigests=["sha256:" + "0" * 64])
        check("failures" in avail, "the request whose reply was lost was committed")
        try:
            c.put_image(repositoryName="faulty", imageManifest="{}")
            check(False, "a reset raises")
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError):
            check(True, "reset before processing")
    finally:
        s.stop()
    bad = subprocess.run([BIN, "serve", "--faults", "Op:bogus=2"], capture_output=True, text=True,
                         timeout=10)
    check(bad.returncode != 0 and "bogus" in bad.stderr, "bad fault spec refused")


def test_generated_keys():
    s = Server("--sink", keys=False)
    try:
        env = dict(l.replace("export ", "").split("=", 1) for l in s.extra)
        check(env["AWS_ACCESS_KEY_ID"].startswith("AKIA") and len(env["AWS_SECRET_ACCESS_KEY"]) == 40,
              "generated key pair printed as export lines")
        c = s.client(akid=env["AWS_ACCESS_KEY_ID"], secret=env["AWS_SECRET_ACCESS_KEY"])
        check(error_of(c.describe_repositories) == {}, "generated keys work")
    finally:
        s.stop()


def test_tls(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    if r.returncode != 0:
        print("skip TLS: openssl cannot make a certificate")
        return
    s = Server("--sink", "--repository", "tls", "--tls-cert", cert, "--tls-key", key)
    try:
        check(s.url.startswith("https://"), "TLS URL")
        c = s.client(verify=cert)
        names = [x["repositoryName"] for x in c.describe_repositories()["repositories"]]
        check(names == ["tls"], "DescribeRepositories over HTTPS")
        # The server's order picks the cipher, as the AWS endpoints' does: AES-128-GCM for a
        # client that lists AES-256-GCM first (OpenSSL's default), TLS 1.2 as well.
        import socket
        import ssl
        host, port = s.url[len("https://"):].rstrip("/").split(":")
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx = ssl.create_default_context(cafile=cert)
            ctx.maximum_version = version
            if version == ssl.TLSVersion.TLSv1_2:
                ctx.set_ciphers("ECDHE+AESGCM")  # AES-256 listed before AES-128
            with socket.create_connection((host, int(port)), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as tls:
                    name = tls.cipher()[0]
            check("AES128-GCM" in name or "AES_128_GCM" in name,
                  f"server's cipher order: {name} over {version.name}")
    finally:
        s.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-serve-test-")
    data_dir = os.path.join(tmp, "data")
    try:
        srv = Server("--data-dir", data_dir, "--repository", "pre/made")
        c = srv.client()
        test_repositories(srv, c)
        layers = test_layers(srv, c)
        test_upload_errors(srv, c)
        md, m = test_images(srv, c, layers)
        test_sigv4(srv, c)
        test_robustness(srv, c)
        test_concurrent(srv, c)
        test_cli(srv)
        # An upload in progress across the restart.
        pending = os.urandom(9 * MiB + 5)
        uid = c.initiate_layer_upload(repositoryName="team/app")["uploadId"]
        c.upload_layer_part(repositoryName="team/app", uploadId=uid, partFirstByte=0,
                            partLastByte=5 * MiB - 1, layerPartBlob=pending[:5 * MiB])
        # Another one whose bytes reached the blob store just before a crash.
        gone = c.initiate_layer_upload(repositoryName="team/app")["uploadId"]
        srv.stop()
        # A part being received at a crash leaves bytes past the acknowledged length.
        with open(os.path.join(data_dir, "uploads", uid + ".data"), "ab") as f:
            f.write(b"torn part" * 1000)
        os.remove(os.path.join(data_dir, "uploads", gone + ".data"))

        srv = Server("--data-dir", data_dir)
        c = srv.client()
        names = {x["repositoryName"] for x in c.describe_repositories()["repositories"]}
        check(names == {"team/app", "pre/made", "immutable", "from-cli"}, "repositories survive: %s" % names)
        for d, data in layers.items():
            check(download(c, "team/app", d) == data, "layer survives the restart")
        got = c.batch_get_image(repositoryName="team/app", imageIds=[{"imageTag": "v1"}])
        check(got["images"] and got["images"][0]["imageManifest"] == m and
              got["images"][0]["imageId"]["imageDigest"] == md, "image and tag survive the restart")
        r = expect_error(c.upload_layer_part, "InvalidLayerPartException", repositoryName="team/app",
                         uploadId=uid, partFirstByte=0, partLastByte=9, layerPartBlob=pending[:10])
        check(r.get("lastValidByteReceived") == 5 * MiB - 1, "upload in progress resumes where it was")
        c.upload_layer_part(repositoryName="team/app", uploadId=uid, partFirstByte=5 * MiB,
                            partLastByte=len(pending) - 1, layerPartBlob=pending[5 * MiB:])
        c.complete_layer_upload(repositoryName="team/app", uploadId=uid, layerDigests=[digest(pending)])
        check(download(c, "team/app", digest(pending)) == pending, "resumed upload reads back")
        expect_error(c.upload_layer_part, "UploadNotFoundException", repositoryName="team/app",
                     uploadId=gone, partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
        srv.stop()

        test_sink()
        test_faults()
        test_generated_keys()
        test_tls(tmp)
        # Without --data-dir the temporary directory goes away at exit.
        before = set(os.listdir(tempfile.gettempdir()))
        s = Server(env_extra={"TMPDIR": tmp})
        made = [d for d in os.listdir(tmp) if d.startswith("ecrup-serve-")]
        check(len(made) == 1, "a temporary data directory is made")
        s.stop()
        check(not [d for d in os.listdir(tmp) if d.startswith("ecrup-serve-")],
              "the temporary data directory is removed at exit")
        del before
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("test_server")


if __name__ == "__main__":
    sys.exit(main())

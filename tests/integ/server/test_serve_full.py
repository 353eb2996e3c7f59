#!/usr/bin/env python3
"""`ecrup serve` when its disk cannot take what it is given:
- a part: UploadLayerPart answers HTTP 500 ServerException naming the cause (clients retry a
  500, not a 400), and once there is room again the same push finishes;
- an image: PutImage whose repository state cannot be stored answers 500 and leaves nothing
  behind, so its retry is not told the image already exists, and a restart does not lose an
  image the client was told it put.

The full disk is a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) on the server process:
its writes fail with EFBIG as they would with ENOSPC, without root or a small file system."""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, file_digest, finish, stop_checked  # noqa: E402

BIN = os.path.abspath(os.path.join(os.environ.get("ECRUP_BINARY_DIR", "build"), "ecrup"))
AKID, SECRET = "AKIDECRUPFULLDISK001", "ecrup-full-disk-secret/0123456789abcdef"
HOME = tempfile.mkdtemp(prefix="ecrup-full-home-")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
ENV.update(HOME=HOME, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
           AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
           AWS_CONFIG_FILE=os.path.join(HOME, "config"),
           AWS_SHARED_CREDENTIALS_FILE=os.path.join(HOME, "credentials"))


def disk_of(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return apply


def serve(data, limited, limit=2 * 1024 * 1024):
    proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                             "--repository", "full"], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=disk_of(limit) if limited else None)
    line = proc.stdout.readline()
    if not line.startswith("ecrup serve: listening on "):
        proc.kill()
        raise RuntimeError("serve did not start: %r %s" % (line, proc.stderr.read()))
    return proc, line.split()[-1]


def main():
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    tmp = tempfile.mkdtemp(prefix="ecrup-full-")
    data = os.path.join(tmp, "data")
    layer = os.path.join(tmp, "layer.bin")
    with open(layer, "wb") as f:
        f.write(os.urandom(6 * 1024 * 1024))
    proc, url = serve(data, limited=True)
    try:
        c = boto3.client("ecr", endpoint_url=url, region_name="us-east-1",
                         aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                         config=Config(retries={"max_attempts": 1}))
        up = c.initiate_layer_upload(repositoryName="full")["uploadId"]
        try:
            c.upload_layer_part(repositoryName="full", uploadId=up, partFirstByte=0,
                                partLastByte=4 * 1024 * 1024 - 1, layerPartBlob=os.urandom(
                                    4 * 1024 * 1024))
            err = None
        except ClientError as e:
            err = e.response
        check(err is not None and err["ResponseMetadata"]["HTTPStatusCode"] == 500 and
              err["Error"]["Code"] == "ServerException" and
              "File too large" in err["Error"]["Message"],
              "a part the disk cannot take: 500 ServerException naming the cause (%r)" %
              (err and err["Error"]))
        r = subprocess.run([BIN, "upload-layer", "--json", "--repository", "full", "--endpoint-url",
                            url, layer], env=ENV, capture_output=True, text=True, timeout=120)
        check(r.returncode == 1 and '"error":"ServerException"' in r.stdout,
              "ecrup reports the failure after its retries (%r %r)" % (r.stdout, r.stderr[-300:]))
    finally:
        stop_checked(proc)
    # Room again: the same command finishes, into the same data directory.
    proc, url = serve(data, limited=False)
    try:
        r = subprocess.run([BIN, "upload-layer", "--json", "--repository", "full", "--endpoint-url",
                            url, layer], env=ENV, capture_output=True, text=True, timeout=120)
        digest = file_digest(layer)
        stored = os.path.join(data, "blobs", "sha256", digest.split(":", 1)[1])
        check(r.returncode == 0 and '"uploaded"' in r.stdout and os.path.exists(stored) and
              file_digest(stored) == digest,
              "with room again the same push finishes (%r %r)" % (r.stdout, r.stderr[-300:]))
    finally:
        stop_checked(proc)
    put_image(tmp, boto3, Config, ClientError)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(HOME, ignore_errors=True)
    return finish("test_serve_full")


def put_image(tmp, boto3, Config, ClientError):
    import hashlib
    import json

    data = os.path.join(tmp, "data-image")

    def client(url):
        return boto3.client("ecr", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                            config=Config(retries={"max_attempts": 1}))

    # Layers up with room to spare; the image's manifest is small, the repository's state
    # (every layer's digest, in its journal) larger: a limit between the two fails only the
    # state.
    proc, url = serve(data, limited=False)
    c = client(url)
    digests = []
    for i in range(8):
        blob = os.urandom(1000 + i)
        d = "sha256:" + hashlib.sha256(blob).hexdigest()
        up = c.initiate_layer_upload(repositoryName="full")["uploadId"]
        c.upload_layer_part(repositoryName="full", uploadId=up, partFirstByte=0,
                            partLastByte=len(blob) - 1, layerPartBlob=blob)
        c.complete_layer_upload(repositoryName="full", uploadId=up, layerDigests=[d])
        digests.append((d, len(blob)))
    stop_checked(proc)
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digests[0][0], "size": digests[0][1]},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": digests[1][0], "size": digests[1][1]}]})
    state = max(os.path.getsize(os.path.join(data, "repos", f))
                for f in os.listdir(os.path.join(data, "repos")))
    limit = max(len(manifest), state) + 8
    check(len(manifest) < limit <= state + 8, "the limit sits between the manifest and the state")
    proc, url = serve(data, limited=True, limit=limit)
    try:
        c = client(url)
        codes = []
        for _attempt in range(2):
            try:
                c.put_image(repositoryName="full", imageManifest=manifest, imageTag="v1")
                codes.append("ok")
            except ClientError as e:
                codes.append((e.response["ResponseMetadata"]["HTTPStatusCode"],
                              e.response["Error"]["Code"]))
        check(codes == [(500, "ServerException")] * 2,
              "PutImage that cannot be stored: 500 both times, never 'already exists' (%r)"
              % codes)
    finally:
        stop_checked(proc)
    proc, url = serve(data, limited=False)
    try:
        c = client(url)
        got = c.batch_get_image(repositoryName="full", imageIds=[{"imageTag": "v1"}])["images"]
        check(got == [], "after a restart no image stands that was never stored (%r)" % got)
        c.put_image(repositoryName="full", imageManifest=manifest, imageTag="v1")
        got = c.batch_get_image(repositoryName="full", imageIds=[{"imageTag": "v1"}])["images"]
        check(len(got) == 1 and got[0]["imageManifest"] == manifest,
              "with room again the image is put")
    finally:
        stop_checked(proc)
    # The refused appends were cut back: the record after them is read at the next start.
    proc, url = serve(data, limited=False)
    try:
        got = client(url).batch_get_image(repositoryName="full",
                                          imageIds=[{"imageTag": "v1"}])["images"]
        check(len(got) == 1, "and it is still there after a restart (%r)" % got)
    finally:
        stop_checked(proc)


if __name__ == "__main__":
    sys.exit(main())

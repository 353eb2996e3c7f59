#!/usr/bin/env python3
"""The operations CI scripts call around a push, against `ecrup serve` with boto3 and the aws
CLI over loopback: ListImages, DescribeImages, BatchDeleteImage, DeleteRepository,
GetAuthorizationToken, DescribeRegistry, and the operations UnknownOperationException lists.
Deletes are checked to survive a kill -9 of the server. Nothing leaves 127.0.0.1.
"""
import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402
from test_server import (AKID, SECRET, Server, digest, error_of, expect_error,  # noqa: E402
                         manifest_for, signed_raw, upload)

ACCOUNT = "123456789012"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def push(c, repo, blobs, tags, config=b'{"os":"linux"}'):
    """Upload config and layers (those not there yet) and put the image under each tag (or
    untagged when tags is empty); return (digest, manifest, size of its layers)."""
    have = {l["layerDigest"] for l in c.batch_check_layer_availability(
        repositoryName=repo, layerDigests=[digest(b) for b in blobs + [config]])["layers"]}
    for b in blobs + [config]:
        if digest(b) not in have:
            upload(c, repo, b)
            have.add(digest(b))
    m = manifest_for(digest(config), len(config), [(digest(b), len(b)) for b in blobs])
    for t in tags or [None]:
        kw = {"imageTag": t} if t else {}
        c.put_image(repositoryName=repo, imageManifest=m, **kw)
    return digest(m.encode()), m, sum(len(b) for b in blobs)


def all_pages(c, op, **kw):
    key = "imageIds" if op == "list_images" else "imageDetails"
    out, token = [], kw.pop("nextToken", None)
    while True:
        r = getattr(c, op)(**kw, **({"nextToken": token} if token else {}))
        out += r[key]
        token = r.get("nextToken")
        if not token:
            return out


def id_set(ids):
    return {(i["imageDigest"], i.get("imageTag")) for i in ids}


def test_list(c, a, b, u):
    repo = "ci/app"
    everything = {(a, "v1"), (a, "latest"), (b, "v2"), (u, None)}
    check(id_set(c.list_images(repositoryName=repo)["imageIds"]) == everything,
          "ListImages lists every tag and the untagged image")
    check(id_set(c.list_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})["imageIds"])
          == everything - {(u, None)}, "ListImages TAGGED")
    check(id_set(c.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageIds"])
          == {(u, None)}, "ListImages UNTAGGED")
    check(c.list_images(repositoryName=repo, filter={"imageStatus": "ARCHIVED"})["imageIds"] == [],
          "no image here is ARCHIVED")
    pages = all_pages(c, "list_images", repositoryName=repo, maxResults=1)
    check(len(pages) == 4 and id_set(pages) == everything, "ListImages pages of one: %s" % pages)
    via = [i for p in c.get_paginator("list_images").paginate(
        repositoryName=repo, PaginationConfig={"PageSize": 3}) for i in p["imageIds"]]
    check(id_set(via) == everything and len(via) == 4, "boto3's paginator over ListImages")
    # A push between pages neither repeats nor hides what was there before.
    first = c.list_images(repositoryName=repo, maxResults=2)
    extra, _, _ = push(c, repo, [b"between pages"], ["mid"])
    rest = all_pages(c, "list_images", repositoryName=repo, maxResults=2,
                     nextToken=first["nextToken"]) if first.get("nextToken") else []
    seen = first["imageIds"] + rest
    check(everything <= id_set(seen) and len(seen) == len(id_set(seen)),
          "pages stay whole under a concurrent push")
    c.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": extra}])
    expect_error(c.list_images, "InvalidParameterException", repositoryName=repo,
                 nextToken="not-a-token")
    expect_error(c.list_images, "InvalidParameterException", repositoryName=repo, maxResults=0)
    expect_error(c.list_images, "InvalidParameterException", repositoryName=repo, maxResults=1001)
    expect_error(c.list_images, "InvalidParameterException", repositoryName=repo,
                 filter={"tagStatus": "SOME"})
    expect_error(c.list_images, "InvalidParameterException", repositoryName="Bad Name")
    expect_error(c.list_images, "RepositoryNotFoundException", repositoryName="nope")
    expect_error(c.list_images, "RepositoryNotFoundException", repositoryName=repo,
                 registryId="210987654321")


def test_describe(c, a, b, u, sizes):
    repo = "ci/app"
    now = datetime.datetime.now(datetime.timezone.utc)
    details = {d["imageDigest"]: d for d in c.describe_images(repositoryName=repo)["imageDetails"]}
    check(set(details) == {a, b, u}, "DescribeImages describes every image once")
    da = details.get(a, {})
    check(sorted(da.get("imageTags", [])) == ["latest", "v1"], "imageTags of a twice-tagged image")
    check("imageTags" not in details.get(u, {}), "an untagged image has no imageTags")
    for d, want in sizes.items():
        check(details.get(d, {}).get("imageSizeInBytes") == want,
              "imageSizeInBytes is the layers' size: %s vs %s" %
              (details.get(d, {}).get("imageSizeInBytes"), want))
    check(da.get("registryId") == ACCOUNT and da.get("repositoryName") == repo,
          "registryId and repositoryName")
    check(da.get("imageManifestMediaType") == OCI_MANIFEST and
          da.get("artifactMediaType") == OCI_CONFIG, "manifest and artifact media types")
    pushed = da.get("imagePushedAt")
    check(isinstance(pushed, datetime.datetime) and abs((now - pushed).total_seconds()) < 120,
          "imagePushedAt is when it was pushed: %s" % pushed)
    tagged = c.describe_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})["imageDetails"]
    check({d["imageDigest"] for d in tagged} == {a, b}, "DescribeImages TAGGED")
    untagged = c.describe_images(repositoryName=repo,
                                 filter={"tagStatus": "UNTAGGED"})["imageDetails"]
    check([d["imageDigest"] for d in untagged] == [u], "DescribeImages UNTAGGED")
    pages = all_pages(c, "describe_images", repositoryName=repo, maxResults=1)
    check(sorted(d["imageDigest"] for d in pages) == sorted([a, b, u]),
          "DescribeImages pages of one")
    by_id = c.describe_images(repositoryName=repo, imageIds=[
        {"imageTag": "v1"}, {"imageDigest": a}, {"imageTag": "v2"}])["imageDetails"]
    check(sorted(d["imageDigest"] for d in by_id) == sorted([a, b]),
          "DescribeImages by tag and digest, each image once")
    r = expect_error(c.describe_images, "ImageNotFoundException", repositoryName=repo,
                     imageIds=[{"imageTag": "v1"}, {"imageTag": "missing"}])
    check("missing" in r.get("Error", {}).get("Message", ""), "the message names the image")
    expect_error(c.describe_images, "ImageNotFoundException", repositoryName=repo,
                 imageIds=[{"imageDigest": "sha256:" + "12" * 32}])
    expect_error(c.describe_images, "ImageNotFoundException", repositoryName=repo,
                 imageIds=[{"imageTag": "v2", "imageDigest": a}])
    expect_error(c.describe_images, "InvalidParameterException", repositoryName=repo,
                 imageIds=[{"imageDigest": "sha256:nothex"}])
    expect_error(c.describe_images, "InvalidParameterException", repositoryName=repo,
                 imageIds=[{"imageTag": "t" * 301}])
    expect_error(c.describe_images, "InvalidParameterException", repositoryName=repo,
                 imageIds=[])
    expect_error(c.describe_images, "InvalidParameterException", repositoryName=repo,
                 imageIds=[{"imageTag": "v1"}], maxResults=5)
    expect_error(c.describe_images, "InvalidParameterException", repositoryName=repo,
                 nextToken="00")
    expect_error(c.describe_images, "RepositoryNotFoundException", repositoryName="nope")
    # An index: the largest of its manifests, no artifact media type.
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": OCI_MANIFEST, "digest": d, "size": 1}
                                      for d in (a, b)]})
    c.put_image(repositoryName=repo, imageManifest=index, imageTag="multi")
    det = c.describe_images(repositoryName=repo, imageIds=[{"imageTag": "multi"}])["imageDetails"]
    check(det and det[0]["imageSizeInBytes"] == max(sizes[a], sizes[b]) and
          "artifactMediaType" not in det[0] and
          det[0]["imageManifestMediaType"] == "application/vnd.oci.image.index.v1+json",
          "an index's size is its largest manifest's: %s" % det)
    return digest(index.encode())


def test_delete_images(c, a, b, u, index):
    repo = "ci/app"
    r = c.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": b}])
    check([f["failureCode"] for f in r["failures"]] == ["ImageReferencedByManifestList"] and
          r["imageIds"] == [], "an image an index names stays: %s" % r)
    r = c.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "multi"}])
    check(r["imageIds"] == [{"imageDigest": index, "imageTag": "multi"}], "the index goes")
    r = c.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    check(r["imageIds"] == [{"imageDigest": a, "imageTag": "latest"}] and r["failures"] == [],
          "deleting a tag untags: %s" % r)
    check(id_set(c.list_images(repositoryName=repo)["imageIds"]) ==
          {(a, "v1"), (b, "v2"), (u, None)}, "the image keeps its other tag")
    r = c.batch_delete_image(repositoryName=repo, imageIds=[
        {"imageTag": "nope"}, {"imageTag": "v1", "imageDigest": b},
        {"imageDigest": "sha256:zz"}, {"imageDigest": "md5:" + "ab" * 16}, {},
        {"imageDigest": "sha256:" + "34" * 32}])
    codes = [f["failureCode"] for f in r["failures"]]
    check(codes == ["ImageNotFound", "ImageTagDoesNotMatchDigest", "InvalidImageDigest",
                    "InvalidImageDigest", "MissingDigestAndTag", "ImageNotFound"] and
          r["imageIds"] == [], "BatchDeleteImage failures: %s" % codes)
    check(r["failures"][1]["imageId"] == {"imageTag": "v1", "imageDigest": b},
          "a failure names the image id it was given")
    # The last tag takes the image with it, as ECR's documentation says.
    r = c.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1", "imageDigest": a}])
    check(r["imageIds"] == [{"imageDigest": a, "imageTag": "v1"}], "last tag deleted")
    check(a not in {d["imageDigest"] for d in c.describe_images(repositoryName=repo)["imageDetails"]},
          "an image without its last tag is gone")
    expect_error(c.describe_images, "ImageNotFoundException", repositoryName=repo,
                 imageIds=[{"imageDigest": a}])
    # A digest takes the image and every tag.
    c.put_image(repositoryName=repo, imageManifest=MANIFESTS[b], imageTag="v2b")
    r = c.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": b}])
    check(sorted(i.get("imageTag") for i in r["imageIds"]) == ["v2", "v2b"] and
          all(i["imageDigest"] == b for i in r["imageIds"]), "deleting by digest: %s" % r)
    r = c.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": b}])
    check([f["failureCode"] for f in r["failures"]] == ["ImageNotFound"], "deleted twice")
    # Layers stay: the image can be put again.
    c.put_image(repositoryName=repo, imageManifest=MANIFESTS[a], imageTag="again")
    expect_error(c.batch_delete_image, "RepositoryNotFoundException", repositoryName="nope",
                 imageIds=[{"imageTag": "x"}])
    expect_error(c.batch_delete_image, "InvalidParameterException", repositoryName=repo,
                 imageIds=[{"imageTag": ""}])
    expect_error(c.batch_delete_image, "InvalidParameterException", repositoryName=repo,
                 imageIds=[{"imageTag": "x"}] * 101)
    expect_error(c.batch_delete_image, "InvalidParameterException", repositoryName=repo)


def test_auth(srv, c):
    now = datetime.datetime.now(datetime.timezone.utc)
    r = c.get_authorization_token()["authorizationData"]
    check(len(r) == 1, "one authorizationData")
    tok = base64.b64decode(r[0]["authorizationToken"]).decode()
    user, _, password = tok.partition(":")
    check(user == "AWS" and len(password) == 64, "the token is AWS:<password>")
    left = (r[0]["expiresAt"] - now).total_seconds()
    check(12 * 3600 - 120 < left <= 12 * 3600 + 5, "expires 12 hours ahead: %s" % left)
    check(r[0]["proxyEndpoint"] == srv.url, "proxyEndpoint is this server")
    again = c.get_authorization_token(registryIds=[ACCOUNT])["authorizationData"]
    check(len(again) == 1 and again[0]["authorizationToken"] != r[0]["authorizationToken"],
          "every call gives a new password")
    expect_error(c.get_authorization_token, "InvalidParameterException", registryIds=["abc"])
    expect_error(c.get_authorization_token, "InvalidParameterException", registryIds=[])
    reg = c.describe_registry()
    check(reg["registryId"] == ACCOUNT and reg["replicationConfiguration"] == {"rules": []},
          "DescribeRegistry: %s" % reg)
    return password


def test_unknown(srv):
    r = signed_raw(srv.url, "Nope", "{}")
    body = r.json()
    check(r.status_code == 400 and body.get("__type") == "UnknownOperationException",
          "unknown operation refused")
    for op in ("ListImages", "DescribeImages", "BatchDeleteImage", "DeleteRepository",
               "GetAuthorizationToken", "DescribeRegistry", "PutImage", "CreateRepository"):
        check(op in body.get("message", ""), "UnknownOperationException lists " + op)


def test_delete_repository(c):
    c.create_repository(repositoryName="ci/doomed")
    push(c, "ci/doomed", [b"doomed layer"], ["t"])
    r = expect_error(c.delete_repository, "RepositoryNotEmptyException", repositoryName="ci/doomed")
    check("ci/doomed" in r.get("Error", {}).get("Message", ""), "the message names it")
    expect_error(c.delete_repository, "RepositoryNotFoundException", repositoryName="ci/none")
    expect_error(c.delete_repository, "InvalidParameterException", repositoryName="UPPER")
    expect_error(c.delete_repository, "InvalidParameterException", repositoryName="ci/doomed",
                 registryId="12")
    pending = b"an upload the delete overtakes"
    uid = c.initiate_layer_upload(repositoryName="ci/doomed")["uploadId"]
    c.upload_layer_part(repositoryName="ci/doomed", uploadId=uid, partFirstByte=0,
                        partLastByte=len(pending) - 1, layerPartBlob=pending)
    r = c.delete_repository(repositoryName="ci/doomed", force=True)
    check(r["repository"]["repositoryName"] == "ci/doomed" and
          r["repository"]["registryId"] == ACCOUNT, "DeleteRepository returns the repository")
    expect_error(c.describe_repositories, "RepositoryNotFoundException", repositoryNames=["ci/doomed"])
    expect_error(c.complete_layer_upload, "RepositoryNotFoundException", repositoryName="ci/doomed",
                 uploadId=uid, layerDigests=[digest(pending)])
    c.create_repository(repositoryName="ci/empty")
    c.delete_repository(repositoryName="ci/empty")
    expect_error(c.list_images, "RepositoryNotFoundException", repositoryName="ci/empty")


def test_cli(srv, password):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    base = ["aws", "ecr", "--endpoint-url", srv.url, "--output", "json"]

    def aws(*args):
        r = subprocess.run(base + list(args), env=env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "aws ecr %s: %s" % (args[0], r.stderr.strip()))
        return r.stdout

    c = srv.client()
    c.create_repository(repositoryName="ci/cli")
    d, _, _ = push(c, "ci/cli", [b"cli layer one", b"cli layer two"], ["one", "two"])
    out = json.loads(aws("list-images", "--repository-name", "ci/cli", "--page-size", "1"))
    check(id_set(out["imageIds"]) == {(d, "one"), (d, "two")}, "aws ecr list-images pages")
    out = json.loads(aws("describe-images", "--repository-name", "ci/cli"))
    check(out["imageDetails"][0]["imageSizeInBytes"] == len(b"cli layer one") + len(b"cli layer two"),
          "aws ecr describe-images")
    out = json.loads(aws("batch-delete-image", "--repository-name", "ci/cli", "--image-ids",
                         "imageTag=one"))
    check(out["imageIds"] == [{"imageDigest": d, "imageTag": "one"}], "aws ecr batch-delete-image")
    out = json.loads(aws("delete-repository", "--repository-name", "ci/cli", "--force"))
    check(out["repository"]["repositoryName"] == "ci/cli", "aws ecr delete-repository --force")
    pw = subprocess.run(base[:2] + ["get-login-password", "--endpoint-url", srv.url], env=env,
                        capture_output=True, text=True, timeout=60)
    check(pw.returncode == 0 and len(pw.stdout.strip()) == 64 and pw.stdout.strip() != password,
          "aws ecr get-login-password: %s" % pw.stderr.strip())


MANIFESTS = {}


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-serve-ops-")
    data = os.path.join(tmp, "data")
    srv = None
    try:
        srv = Server("--data-dir", data)
        c = srv.client()
        c.create_repository(repositoryName="ci/app")
        c.create_repository(repositoryName="ci/other")
        a, ma, sa = push(c, "ci/app", [b"layer a1" * 100, b"layer a2" * 300], ["v1", "latest"])
        b, mb, sb = push(c, "ci/app", [b"layer b1" * 50], ["v2"])
        u, mu, su = push(c, "ci/app", [b"layer a1" * 100], [], config=b'{"os":"plan9"}')
        MANIFESTS.update({a: ma, b: mb, u: mu})
        # The same image in another repository shares its manifest file.
        push(c, "ci/other", [b"layer b1" * 50], ["shared"])
        test_list(c, a, b, u)
        index = test_describe(c, a, b, u, {a: sa, b: sb, u: su})
        test_delete_images(c, a, b, u, index)
        password = test_auth(srv, c)
        test_unknown(srv)
        test_delete_repository(c)
        test_cli(srv, password)

        # The last change before the kill is a delete, which nothing after it rewrites.
        c.put_image(repositoryName="ci/app", imageManifest=ma, imageTag="temp")
        c.batch_delete_image(repositoryName="ci/app", imageIds=[{"imageTag": "temp"}])
        pushed = {d["imageDigest"]: d["imagePushedAt"]
                  for d in c.describe_images(repositoryName="ci/app")["imageDetails"]}
        # kill -9: every delete acknowledged before it is on disk.
        srv.kill()
        srv = Server("--data-dir", data)
        c = srv.client()
        names = {r["repositoryName"] for r in c.describe_repositories()["repositories"]}
        check(names == {"ci/app", "ci/other"}, "deleted repositories stay deleted: %s" % names)
        check(id_set(c.list_images(repositoryName="ci/app")["imageIds"]) ==
              {(a, "again"), (u, None)}, "deleted images stay deleted")
        after = {d["imageDigest"]: d["imagePushedAt"]
                 for d in c.describe_images(repositoryName="ci/app")["imageDetails"]}
        check(after == pushed, "imagePushedAt survives the restart")
        got = c.batch_get_image(repositoryName="ci/other", imageIds=[{"imageTag": "shared"}])
        check(len(got["images"]) == 1 and got["images"][0]["imageManifest"] == mb,
              "a manifest another repository holds survives its deletion here")
        check(not os.path.exists(os.path.join(data, "manifests", digest(b"x")[7:])), "sanity")
        left = set(os.listdir(os.path.join(data, "manifests")))
        check(b[7:] in left and a[7:] in left, "manifests still named are kept")
        c.batch_delete_image(repositoryName="ci/other", imageIds=[{"imageTag": "shared"}])
        check(b[7:] not in os.listdir(os.path.join(data, "manifests")),
              "a manifest no repository names is removed")
        lay = c.batch_check_layer_availability(repositoryName="ci/other",
                                               layerDigests=[digest(b"layer b1" * 50)])
        check(len(lay["layers"]) == 1, "layers stay when images go")
        check(error_of(c.describe_registry) == {}, "DescribeRegistry after the restart")
        srv.stop()
        srv = None
    finally:
        if srv:
            srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("test_server_ops")


if __name__ == "__main__":
    sys.exit(main())

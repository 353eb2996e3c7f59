#!/usr/bin/env python3
"""Pulling from `ecrup serve` over the registry API what `ecrup push` pushed: an OCI layout, a
docker-save tarball and a multi-platform index, read back with skopeo (inspect, copy --all
into an OCI layout) and every manifest and blob digest compared with what was pushed. Then the
read path's HTTP by hand: Basic auth as ECR's (the password from boto3's
GetAuthorizationToken), the spec's error codes, HEAD, Accept, Range, tags/list pages, and the
signed download URLs of GetDownloadUrlForLayer. Nothing leaves 127.0.0.1."""
import base64
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
from cli_common import MiB, Server, check, clean_env, finish  # noqa: E402
from test_cli_push import (OCI_INDEX, OCI_MANIFEST, Layout, digest_of, docker_save_tar,  # noqa
                           ecr, jbytes, push)

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
SKOPEO_ACCEPT = [OCI_MANIFEST, DOCKER_V2, OCI_INDEX,
                 "application/vnd.docker.distribution.manifest.list.v2+json"]


class Image:
    """What one push put: its tag, manifest bytes and digest, and every blob by digest
    (manifests of an index's platforms included)."""

    def __init__(self, repo, tag, manifest, blobs):
        self.repo, self.tag, self.manifest = repo, tag, manifest
        self.digest = digest_of(manifest)
        self.blobs = {digest_of(b): b for b in blobs}


def push_layout(server, tmp):
    lay = Layout(os.path.join(tmp, "single"))
    desc, datas = lay.image([3 * MiB + 5, 1, 700 * 1024])
    lay.add(desc, ref="v1")
    lay.write()
    _, images, _ = push(server, "pull/single", lay.root)
    check(images and images[0]["status"] == "pushed", "layout pushed: %s" % images)
    with open(os.path.join(lay.root, "blobs", "sha256", desc["digest"][7:]), "rb") as f:
        return Image("pull/single", "v1", f.read(), datas)


def push_index(server, tmp):
    lay = Layout(os.path.join(tmp, "multi"))
    a, da = lay.image([1 * MiB + 3, 4000], arch="amd64")
    b, db = lay.image([2 * MiB + 1], arch="arm64")
    a = dict(a, platform={"os": "linux", "architecture": "amd64"})
    b = dict(b, platform={"os": "linux", "architecture": "arm64"})
    idx = jbytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [a, b]})
    lay.add(dict(lay.blob(idx), mediaType=OCI_INDEX), ref="multi")
    lay.write()
    _, images, _ = push(server, "team/pull/multi", lay.root)
    check([i["status"] for i in images] == ["pushed"] * 3, "index pushed: %s" % images)
    manifests = []
    for d in (a, b):
        with open(os.path.join(lay.root, "blobs", "sha256", d["digest"][7:]), "rb") as f:
            manifests.append(f.read())
    im = Image("team/pull/multi", "multi", idx, da + db + manifests)
    im.children = [(a["digest"], manifests[0]), (b["digest"], manifests[1])]
    return im


def push_docker(server, client, tmp):
    path = docker_save_tar(tmp, "saved", [["example.com/app:saved"]])
    _, images, _ = push(server, "pull/docker", path)
    check(images and images[0]["status"] == "pushed", "docker-save tarball pushed: %s" % images)
    got = client.batch_get_image(repositoryName="pull/docker", imageIds=[{"imageTag": "saved"}])
    manifest = got["images"][0]["imageManifest"].encode()
    # The layers are the tarball's: read them back from the store ecrup pushed them into.
    m = json.loads(manifest)
    blobs = [server.blob(d["digest"]) for d in [m["config"]] + m["layers"]]
    return Image("pull/docker", "saved", manifest, blobs)


class Registry:
    """The /v2 API of `server` over http.client, with the password `password`."""

    def __init__(self, url, password):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.password = u.hostname, u.port, password
        self.netloc = "%s:%d" % (self.host, self.port)

    def auth(self, user="AWS", password=None):
        pw = self.password if password is None else password
        return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()

    def request(self, path, method="GET", headers=(), auth=True):
        """(status, headers as a lowercase dict, body); `headers` a list of pairs, so a name
        may repeat (Go's clients send one Accept per media type)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        c.putrequest(method, path)
        if auth is True:
            c.putheader("Authorization", self.auth())
        elif auth:
            c.putheader("Authorization", auth)
        for k, v in headers:
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, h, body


def error_code(body):
    try:
        return json.loads(body)["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def test_auth(reg, url):
    st, h, body = reg.request("/v2/", auth=False)
    check(st == 401 and error_code(body) == "UNAUTHORIZED", "no credentials: 401 UNAUTHORIZED "
          "(%d %r)" % (st, body))
    check(h.get("www-authenticate") == 'Basic realm="%s/",service="ecr.amazonaws.com"' % url,
          "401 names the Basic realm: %r" % h.get("www-authenticate"))
    check(h.get("docker-distribution-api-version") == "registry/2.0",
          "Docker-Distribution-API-Version on /v2 replies")
    st, h, _ = reg.request("/v2/", auth=reg.auth(password="0" * 64))
    check(st == 401 and "www-authenticate" in h, "a password never given: 401 (%d)" % st)
    st, _, _ = reg.request("/v2/", auth=reg.auth(user="admin"))
    check(st == 401, "the right password for another user: 401 (%d)" % st)
    st, _, _ = reg.request("/v2/", auth="Bearer " + reg.password)
    check(st == 401, "another scheme: 401 (%d)" % st)
    st, _, _ = reg.request("/v2/", auth="Basic !!!")
    check(st == 401, "malformed base64: 401 (%d)" % st)
    st, h, body = reg.request("/v2/")
    check(st == 200 and json.loads(body) == {} and h.get("content-type") == "application/json",
          "GET /v2/ with the password: 200 {} (%d %r)" % (st, body))
    st, _, _ = reg.request("/v2/pull/single/manifests/v1", auth=False)
    check(st == 401, "a manifest without credentials: 401 (%d)" % st)
    st, _, _ = reg.request("/v2/pull/single/tags/list", auth=False)
    check(st == 401, "tags/list without credentials: 401 (%d)" % st)
    st, _, body = reg.request("/v2/nope/manifests/v1", auth=False)
    check(st == 401, "an unknown repository says nothing without credentials: 401 (%d)" % st)


def test_manifests(reg, single, multi):
    path = "/v2/%s/manifests/" % single.repo
    st, h, body = reg.request(path + "v1")
    check(st == 200 and body == single.manifest, "manifest by tag: byte for byte (%d)" % st)
    check(h.get("content-type") == OCI_MANIFEST, "Content-Type is the stored media type: %r"
          % h.get("content-type"))
    check(h.get("docker-content-digest") == single.digest, "Docker-Content-Digest by tag")
    st, h, body = reg.request(path + single.digest)
    check(st == 200 and body == single.manifest and
          h.get("docker-content-digest") == single.digest, "manifest by digest (%d)" % st)
    st, h, body = reg.request(path + single.digest.upper().replace("SHA256", "sha256"))
    check(st == 200 and body == single.manifest, "a digest in uppercase hex (%d)" % st)
    st, h, body = reg.request(path + "v1", method="HEAD")
    check(st == 200 and body == b"" and h.get("content-length") == str(len(single.manifest)) and
          h.get("docker-content-digest") == single.digest and
          h.get("content-type") == OCI_MANIFEST,
          "HEAD: Content-Length, Content-Type and digest, no body (%d %s)" % (st, h))
    st, h, body = reg.request(path + "nope", method="HEAD")
    check(st == 404 and body == b"", "HEAD of an unknown tag: 404 (%d)" % st)

    # Accept: the stored type, a wildcard, a list as skopeo sends it, or refused.
    for accept, ok, what in (
            ([("Accept", OCI_MANIFEST)], True, "the stored type"),
            ([("Accept", "*/*")], True, "*/*"),
            ([("Accept", "application/*;q=0.5")], True, "type/*"),
            ([("Accept", t) for t in SKOPEO_ACCEPT], True, "one Accept header per type"),
            ([("Accept", ", ".join(SKOPEO_ACCEPT))], True, "one comma-separated header"),
            ([("Accept", DOCKER_V2)], False, "only Docker's schema 2"),
            ([("Accept", OCI_MANIFEST + ";q=0"), ("Accept", DOCKER_V2)], False,
             "the stored type at q=0"),
            ([("Accept", OCI_INDEX)], False, "only an index")):
        st, h, body = reg.request(path + "v1", headers=accept)
        if ok:
            check(st == 200 and body == single.manifest, "Accept %s: served (%d)" % (what, st))
        else:
            check(st == 404 and error_code(body) == "MANIFEST_UNKNOWN",
                  "Accept %s: 404 MANIFEST_UNKNOWN (%d %r)" % (what, st, body))
    st, h, body = reg.request("/v2/%s/manifests/multi" % multi.repo,
                              headers=[("Accept", OCI_INDEX)])
    check(st == 200 and body == multi.manifest and h.get("content-type") == OCI_INDEX and
          h.get("docker-content-digest") == multi.digest, "an index by tag, as an index (%d)" % st)
    for d, m in multi.children:
        st, h, body = reg.request("/v2/%s/manifests/%s" % (multi.repo, d))
        check(st == 200 and body == m, "a platform's manifest by digest (%d)" % st)

    for p, code, status, what in (
            (path + "nope", "MANIFEST_UNKNOWN", 404, "an unknown tag"),
            (path + "sha256:" + "0" * 64, "MANIFEST_UNKNOWN", 404, "an unknown digest"),
            (path + "sha512:" + "0" * 128, "MANIFEST_UNKNOWN", 404, "a sha512 digest"),
            (path + "t" * 301, "MANIFEST_UNKNOWN", 404, "a tag of 301 characters"),
            (path + "sha256:xyz", "DIGEST_INVALID", 400, "a malformed digest"),
            ("/v2/nope/manifests/v1", "NAME_UNKNOWN", 404, "an unknown repository"),
            ("/v2/Bad_Name/manifests/v1", "NAME_INVALID", 400, "a name ECR refuses"),
            ("/v2/%s/manifests/v1" % ("a" * 257), "NAME_INVALID", 400, "a 257-character name"),
            ("/v2/pull/single/nothing", "NOT_FOUND", 404, "no such route")):
        st, h, body = reg.request(p)
        check(st == status and error_code(body) == code and
              h.get("content-type") == "application/json",
              "%s: %d %s (%d %r)" % (what, status, code, st, body[:200]))
    # A repository named like a route keyword: the keyword is found from the right.
    st, _, body = reg.request("/v2/manifests/manifests/v1")
    check(st == 404 and error_code(body) == "NAME_UNKNOWN", "repository 'manifests': its name "
          "parsed from the right (%d %r)" % (st, body))


def test_blobs(reg, single, client):
    data = max(single.blobs.values(), key=len)
    d = digest_of(data)
    path = "/v2/%s/blobs/%s" % (single.repo, d)
    st, h, body = reg.request(path)
    check(st == 200 and body == data and h.get("docker-content-digest") == d and
          h.get("accept-ranges") == "bytes", "blob GET: byte for byte (%d)" % st)
    st, h, body = reg.request(path, method="HEAD")
    check(st == 200 and body == b"" and h.get("content-length") == str(len(data)) and
          h.get("docker-content-digest") == d, "blob HEAD: its length, no body (%d %s)" % (st, h))
    n = len(data)
    for rng, first, last in (("bytes=10-19", 10, 19), ("bytes=%d-" % (n - 7), n - 7, n - 1),
                             ("bytes=-5", n - 5, n - 1), ("bytes=0-%d" % (n + 100), 0, n - 1),
                             ("bytes=-%d" % (n + 9), 0, n - 1), ("bytes = 3 - 3", 3, 3)):
        st, h, body = reg.request(path, headers=[("Range", rng)])
        check(st == 206 and body == data[first:last + 1] and
              h.get("content-range") == "bytes %d-%d/%d" % (first, last, n),
              "Range %s: 206, bytes %d-%d (%d %s)" % (rng, first, last, st, h.get("content-range")))
    for rng in ("bytes=%d-" % n, "bytes=%d-%d" % (n + 5, n + 9), "bytes=9-3", "bytes=-0",
                "bytes=abc", "bytes=-"):
        st, h, body = reg.request(path, headers=[("Range", rng)])
        check(st == 416 and h.get("content-range") == "bytes */%d" % n,
              "Range %s: 416 with bytes */size (%d %s)" % (rng, st, h.get("content-range")))
    for rng in ("bytes=0-1,5-6", "items=0-3"):
        st, h, body = reg.request(path, headers=[("Range", rng)])
        check(st == 200 and body == data, "Range %s: ignored, 200 whole (%d)" % (rng, st))
    st, _, body = reg.request("/v2/%s/blobs/sha256:%s" % (single.repo, "0" * 64))
    check(st == 404 and error_code(body) == "BLOB_UNKNOWN", "unknown blob: BLOB_UNKNOWN (%d)" % st)
    st, _, body = reg.request("/v2/other/blobs/%s" % d)
    check(st == 404 and error_code(body) == "NAME_UNKNOWN", "blob of an unknown repository: "
          "NAME_UNKNOWN (%d)" % st)
    st, _, body = reg.request("/v2/%s/blobs/md5:zz" % single.repo)
    check(st == 400 and error_code(body) == "DIGEST_INVALID", "malformed blob digest: "
          "DIGEST_INVALID (%d)" % st)

    # GetDownloadUrlForLayer: a signed URL, readable without the Basic credentials.
    url = client.get_download_url_for_layer(repositoryName=single.repo, layerDigest=d)[
        "downloadUrl"]
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(u.query)
    check(u.path == path and set(q) == {"expires", "signature"},
          "the download URL is the blob route with expires and signature")
    st, _, body = reg.request(u.path + "?" + u.query, auth=False)
    check(st == 200 and body == data, "the download URL reads the blob without Basic (%d)" % st)
    st, h, body = reg.request(u.path + "?" + u.query, auth=False, headers=[("Range", "bytes=1-2")])
    check(st == 206 and body == data[1:3], "the download URL takes a Range (%d)" % st)
    sig = q["signature"][0]
    bad = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    for what, query in (
            ("a changed signature", "expires=%s&signature=%s" % (q["expires"][0], bad)),
            ("a later expiry", "expires=%d&signature=%s" % (int(q["expires"][0]) + 1, sig)),
            ("an expiry passed", "expires=1000&signature=%s" % sig),
            ("no expiry", "signature=%s" % sig)):
        st, _, body = reg.request(u.path + "?" + query, auth=False)
        check(st == 403 and error_code(body) == "DENIED", "download URL with %s: 403 DENIED (%d)"
              % (what, st))
    other = [x for x in single.blobs if x != d][0]
    st, _, _ = reg.request("/v2/%s/blobs/%s?%s" % (single.repo, other, u.query), auth=False)
    check(st == 403, "a download URL's signature for another blob: 403 (%d)" % st)
    st, _, _ = reg.request(u.path, auth=False)
    check(st == 401, "the blob route without its query nor Basic: 401 (%d)" % st)


def test_tags(reg, server, tmp):
    repo = "pull/tags"
    lay = Layout(os.path.join(tmp, "tags"))
    desc, _ = lay.image([100])
    lay.add(desc, ref="a")
    lay.write()
    tags = ["a", "b-1", "B", "c.2", "z", "1.0", "x_y"]
    for t in tags:
        push(server, repo, lay.root, "--tag", t)
    want = sorted(tags)
    st, h, body = reg.request("/v2/%s/tags/list" % repo)
    got = json.loads(body) if st == 200 else {}
    check(got == {"name": repo, "tags": want} and "link" not in h,
          "tags/list: every tag, in lexical order, no Link (%d %r)" % (st, body))
    seen, path, pages = [], "/v2/%s/tags/list?n=2" % repo, 0
    while path and pages < 10:
        st, h, body = reg.request(path)
        seen += json.loads(body)["tags"] if st == 200 else ["<%d>" % st]
        pages += 1
        link = h.get("link")
        path = link[1:link.index(">")] if link else None
        check(not link or link.endswith('>; rel="next"'), "Link is rel=next: %r" % link)
    check(seen == want and pages == 4, "n=2 pages followed through Link: %s in %d" % (seen, pages))
    st, h, body = reg.request("/v2/%s/tags/list?last=b-1" % repo)
    check(st == 200 and json.loads(body)["tags"] == [t for t in want if t > "b-1"],
          "last=b-1: the tags after it (%r)" % body)
    st, h, body = reg.request("/v2/%s/tags/list?n=0" % repo)
    check(st == 200 and json.loads(body)["tags"] == [] and "link" not in h, "n=0: none")
    st, h, body = reg.request("/v2/%s/tags/list?n=100&last=zz" % repo)
    check(st == 200 and json.loads(body)["tags"] == [], "last past every tag: none")
    for n in ("abc", "-1", "10001"):
        st, _, body = reg.request("/v2/%s/tags/list?n=%s" % (repo, n))
        check(st == 400 and error_code(body) == "PAGINATION_NUMBER_INVALID",
              "n=%s: 400 PAGINATION_NUMBER_INVALID (%d)" % (n, st))
    st, _, body = reg.request("/v2/nope/tags/list")
    check(st == 404 and error_code(body) == "NAME_UNKNOWN", "tags/list of an unknown repository")


def skopeo(args, env, timeout=180):
    return subprocess.run(["skopeo", "--insecure-policy", *args], env=env, capture_output=True,
                          timeout=timeout)


def blob_files(layout):
    """{digest: bytes} of an OCI layout's blobs, each checked to hash to its name."""
    out = {}
    root = os.path.join(layout, "blobs", "sha256")
    for name in os.listdir(root):
        with open(os.path.join(root, name), "rb") as f:
            data = f.read()
        check(hashlib.sha256(data).hexdigest() == name, "%s hashes to its name" % name[:12])
        out["sha256:" + name] = data
    return out


def test_skopeo(reg, images, tmp):
    env = clean_env(XDG_RUNTIME_DIR=tmp, TMPDIR=tmp, REGISTRY_AUTH_FILE=os.path.join(tmp, "a"))
    creds = "AWS:" + reg.password
    for im in images:
        ref = "docker://%s/%s:%s" % (reg.netloc, im.repo, im.tag)
        r = skopeo(["inspect", "--raw", "--tls-verify=false", "--creds", creds, ref], env)
        check(r.returncode == 0 and r.stdout == im.manifest,
              "skopeo inspect --raw %s: the manifest byte for byte (%d %s)"
              % (im.tag, r.returncode, r.stderr[-400:]))
        out = os.path.join(tmp, "copy-" + im.tag)
        r = skopeo(["copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                    "--src-creds", creds, ref, "oci:%s:%s" % (out, im.tag)], env)
        if not check(r.returncode == 0, "skopeo copy --all %s (%d %s)"
                     % (im.tag, r.returncode, r.stderr[-600:])):
            continue
        with open(os.path.join(out, "index.json")) as f:
            top = json.load(f)["manifests"]
        check([m["digest"] for m in top] == [im.digest], "copy of %s: index.json names the "
              "pushed digest: %s" % (im.tag, top))
        got = blob_files(out)
        want = dict(im.blobs, **{im.digest: im.manifest})
        check(set(got) == set(want), "copy of %s: the blobs are the pushed ones (%d of %d)"
              % (im.tag, len(set(got) & set(want)), len(want)))
        check(all(got.get(d) == b for d, b in want.items()), "copy of %s: every blob byte for "
              "byte" % im.tag)
    single = images[0]
    r = skopeo(["inspect", "--tls-verify=false", "--creds", creds,
                "docker://%s/%s:%s" % (reg.netloc, single.repo, single.tag)], env)
    info = json.loads(r.stdout) if r.returncode == 0 else {}
    m = json.loads(single.manifest)
    check(info.get("Digest") == single.digest and
          info.get("Layers") == [x["digest"] for x in m["layers"]],
          "skopeo inspect: digest and layers (%d %s)" % (r.returncode, r.stderr[-300:]))
    r = skopeo(["inspect", "--raw", "--tls-verify=false", "--creds", "AWS:" + "0" * 64,
                "docker://%s/%s:%s" % (reg.netloc, single.repo, single.tag)], env)
    check(r.returncode != 0 and (b"401" in r.stderr or b"unauthorized" in r.stderr.lower()),
          "skopeo with a wrong password: refused (%r)" % r.stderr[-300:])
    r = skopeo(["inspect", "--raw", "--tls-verify=false", "--creds", creds,
                "docker://%s/%s:nope" % (reg.netloc, single.repo)], env)
    check(r.returncode != 0 and b"manifest unknown" in r.stderr.lower(),
          "skopeo on an unknown tag: manifest unknown (%r)" % r.stderr[-300:])


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-pull-")
    repos = ["pull/single", "team/pull/multi", "pull/docker", "pull/tags"]
    server = Server(*[a for r in repos for a in ("--repository", r)])
    try:
        client = ecr(server.url)
        single = push_layout(server, tmp)
        multi = push_index(server, tmp)
        docker = push_docker(server, client, tmp)
        tok = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        password = base64.b64decode(tok).decode().partition(":")[2]
        reg = Registry(server.url, password)
        test_auth(reg, server.url)
        test_manifests(reg, single, multi)
        test_blobs(reg, single, client)
        test_tags(reg, server, tmp)
        # setup-deps installs skopeo: a machine without it fails here rather than skip.
        if check(shutil.which("skopeo") is not None, "skopeo is installed (scripts/setup-deps)"):
            test_skopeo(reg, [single, multi, docker], tmp)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    finish("test_serve_pull")


if __name__ == "__main__":
    main()

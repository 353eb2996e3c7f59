#!/usr/bin/env python3
"""`ecrup push` driven as a user drives it, against `ecrup serve` on loopback: an OCI layout
directory, a tarball of one, a classic `docker save` tarball, a multi-platform index; then
read back with boto3 (BatchGetImage) and from the server's store, byte for byte. And the
images that must be refused, each with a message naming what is wrong."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import (AKID, BIN, MiB, REGION, SECRET, TOKEN, Server, check,  # noqa: E402
                        clean_env, creds_env, finish, run)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
REF = "org.opencontainers.image.ref.name"
IMAGE_KEYS = ["image", "manifest", "mediaType", "tag", "status", "attempts", "requests",
              "retries"]


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def jbytes(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


class Layout:
    """An OCI image layout being written: blobs by digest, index entries."""

    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        self.index = []

    def blob(self, data):
        d = digest_of(data)
        with open(os.path.join(self.root, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}

    def image(self, layers, arch="amd64"):
        """A manifest over random layers of the given sizes; returns (descriptor, layers)."""
        blobs = [os.urandom(n) for n in layers]
        config = jbytes({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(b) for b in blobs]}})
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": dict(self.blob(config), mediaType=OCI_CONFIG),
             "layers": [dict(self.blob(b), mediaType=OCI_LAYER_GZ) for b in blobs]}
        mb = jbytes(m)
        return dict(self.blob(mb), mediaType=OCI_MANIFEST), [config] + blobs

    def add(self, desc, ref=None):
        if ref:
            desc = dict(desc, annotations={REF: ref})
        self.index.append(desc)

    def write(self):
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(jbytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index}))


def tar_of(directory, path, order=None, fmt=tarfile.PAX_FORMAT):
    with tarfile.open(path, "w", format=fmt) as t:
        for name in order or sorted(os.listdir(directory)):
            t.add(os.path.join(directory, name), arcname=name)
    return path


def ecr(url):
    return boto3.client("ecr", endpoint_url=url, region_name=REGION, aws_access_key_id=AKID,
                        aws_secret_access_key=SECRET, aws_session_token=TOKEN,
                        config=Config(retries={"max_attempts": 1}))


def stored_image(client, repo, tag=None, digest=None):
    ids = [{"imageTag": tag}] if tag else [{"imageDigest": digest}]
    r = client.batch_get_image(repositoryName=repo, imageIds=ids)
    return r["images"][0] if r["images"] else None


def push(server, repo, source, *opts, expect=0):
    r = run(["push", "--repository", repo, "--json", *opts, source], creds_env(server.url))
    lines = []
    for line in r.stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            check(False, "push --json: stdout line is JSON: %r" % line)
    check(r.returncode == expect, "push %s %s: exit %d (got %d: %s)" %
          (os.path.basename(source), " ".join(opts), expect, r.returncode, r.stderr[-1500:]))
    blobs = [l for l in lines if "file" in l]
    images = [l for l in lines if "image" in l]
    return blobs, images, r


def check_blobs_stored(server, datas, what):
    for data in datas:
        got = server.blob(digest_of(data))
        check(got == data, "%s: blob %s stored byte for byte" % (what, digest_of(data)[:19]))


def test_layout(server, client, tmp):
    repo = "push/app"
    lay = Layout(os.path.join(tmp, "oci"))
    desc, datas = lay.image([3 * MiB + 5, 1, 12 * MiB + 1])
    lay.add(desc, ref="v1")
    lay.write()
    mbytes = open(os.path.join(lay.root, "blobs", "sha256", desc["digest"][7:]), "rb").read()

    blobs, images, _ = push(server, repo, lay.root)
    check(len(blobs) == 4 and all(b["status"] == "uploaded" for b in blobs),
          "layout: config and 3 layers uploaded: %s" % [b.get("status") for b in blobs])
    check(sorted(b["digest"] for b in blobs) == sorted(digest_of(d) for d in datas),
          "layout: the blobs are the manifest's")
    check(images and list(images[0]) == IMAGE_KEYS, "layout: a manifest line's keys in order: %s"
          % images)
    check(len(images) == 1 and images[0]["status"] == "pushed" and images[0]["tag"] == "v1" and
          images[0]["manifest"] == desc["digest"] and images[0]["mediaType"] == OCI_MANIFEST,
          "layout: manifest pushed under the tag the index names: %s" % images)
    check_blobs_stored(server, datas, "layout")
    im = stored_image(client, repo, tag="v1")
    check(im is not None and im["imageManifest"].encode() == mbytes and
          im["imageId"]["imageDigest"] == desc["digest"],
          "layout: BatchGetImage returns the manifest byte for byte under v1")

    # again: nothing sent, the manifest is there already
    blobs, images, _ = push(server, repo, lay.root)
    check(all(b["status"] == "exists" and b["parts"] == 0 for b in blobs),
          "layout again: every blob exists, no part sent: %s" % blobs)
    check(images and images[0]["status"] == "exists", "layout again: manifest exists: %s" % images)

    # --tag puts the same image under another tag
    blobs, images, _ = push(server, repo, lay.root, "--tag", "release-1.0")
    check(images and images[0]["status"] == "pushed" and images[0]["tag"] == "release-1.0",
          "--tag: pushed under release-1.0: %s" % images)
    im = stored_image(client, repo, tag="release-1.0")
    check(im is not None and im["imageId"]["imageDigest"] == desc["digest"],
          "--tag: release-1.0 names the same manifest")

    # plain output says where it went, docker's first and last lines around it
    r = run(["push", "--repository", repo, lay.root], creds_env(server.url))
    check(r.returncode == 0 and ("%s:v1" % repo) in r.stdout and desc["digest"] in r.stdout,
          "plain output names repository:tag and the manifest digest: %r" % r.stdout[-600:])
    lines = r.stdout.splitlines()
    check(lines and lines[0] == "The push refers to repository [%s/%s]"
          % (server.url.split("://")[1], repo) and
          lines[-1] == "v1: digest: %s size: %d" % (desc["digest"], desc["size"]),
          "plain output opens with the repository and ends with the image's line: %r"
          % r.stdout[-600:])
    return lay, desc, datas


def test_layout_tar(server, client, tmp):
    repo = "push/tar"
    src = os.path.join(tmp, "oci-tar-src")
    lay = Layout(src)
    desc, datas = lay.image([5 * MiB - 1, 700, 10 * MiB + 3, 20 * MiB + 513])
    lay.add(desc, ref="docker.io/library/app:2.0")
    lay.write()
    # members at 512-byte offsets, in an order unlike the manifest's, with a long pax name
    path = tar_of(src, os.path.join(tmp, "app-oci.tar"), ["index.json", "blobs", "oci-layout"])
    blobs, images, _ = push(server, repo, path, "--part-size", "5M")
    check(len(blobs) == 5 and all(b["status"] == "uploaded" for b in blobs),
          "layout tarball: 5 blobs uploaded: %s" % blobs)
    check(all(b["file"].startswith(path + "/blobs/sha256/") for b in blobs),
          "layout tarball: blobs named as members of the tarball: %s" % [b["file"] for b in blobs])
    check(images and images[0]["tag"] == "2.0" and images[0]["status"] == "pushed",
          "layout tarball: the tag of a full image reference is its last part: %s" % images)
    check_blobs_stored(server, datas, "layout tarball")
    im = stored_image(client, repo, tag="2.0")
    check(im is not None and im["imageId"]["imageDigest"] == desc["digest"],
          "layout tarball: BatchGetImage finds it")


def test_docker_save(server, client, tmp, fmt, tag):
    """A classic docker-save tarball; one layer's folder has a name too long for a plain
    header (GNU: an 'L' record before it; pax: a 'path' record; ustar: the header's prefix
    field)."""
    repo = "push/docker"
    src = os.path.join(tmp, "docker-src-%s" % tag)
    os.makedirs(src)
    layers = [os.urandom(n) for n in (2 * MiB + 17, 6 * MiB, 333)]
    names = []
    for i, data in enumerate(layers):
        d = os.path.join(src, ("l%d" % i) + ("-" + "x" * 120 if i == 1 else ""))
        os.makedirs(d)
        with open(os.path.join(d, "layer.tar"), "wb") as f:
            f.write(data)
        names.append(os.path.relpath(os.path.join(d, "layer.tar"), src))
    # the same layer twice, the second time as a symbolic link (as docker save writes it)
    os.makedirs(os.path.join(src, "l3"))
    os.symlink("../l0/layer.tar", os.path.join(src, "l3", "layer.tar"))
    names.append("l3/layer.tar")
    diff_ids = [digest_of(d) for d in layers] + [digest_of(layers[0])]
    config = jbytes({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    cname = digest_of(config)[7:] + ".json"
    open(os.path.join(src, cname), "wb").write(config)
    open(os.path.join(src, "manifest.json"), "wb").write(
        jbytes([{"Config": cname, "RepoTags": ["registry.example:5000/team/app:" + tag],
                 "Layers": names}]))
    path = tar_of(src, os.path.join(tmp, "docker-%s.tar" % tag), fmt=fmt)
    blobs, images, _ = push(server, repo, path)
    check(len(blobs) == 4 and all(b["status"] == "uploaded" for b in blobs),
          "docker save: config and 3 distinct layers uploaded: %s" % blobs)
    check_blobs_stored(server, [config] + layers, "docker save")
    check(images and images[0]["tag"] == tag and images[0]["status"] == "pushed" and
          images[0]["mediaType"] == OCI_MANIFEST, "docker save: pushed as %s: %s" % (tag, images))
    im = stored_image(client, repo, tag=tag)
    m = json.loads(im["imageManifest"]) if im else {}
    check(m.get("config", {}).get("digest") == digest_of(config) and
          [l["digest"] for l in m.get("layers", [])] == diff_ids and
          [l["size"] for l in m.get("layers", [])] == [len(d) for d in layers] + [len(layers[0])],
          "docker save: the manifest written names the config and the layers in order")


def docker_save_tar(tmp, name, images):
    """A docker-save tarball of `images`: a list of RepoTags lists, one small layer each."""
    src = os.path.join(tmp, name + "-src")
    os.makedirs(src)
    entries = []
    for i, tags in enumerate(images):
        data = os.urandom(1000 + i)
        os.makedirs(os.path.join(src, "l%d" % i))
        with open(os.path.join(src, "l%d" % i, "layer.tar"), "wb") as f:
            f.write(data)
        config = jbytes({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(data)]}})
        cname = digest_of(config)[7:] + ".json"
        open(os.path.join(src, cname), "wb").write(config)
        entries.append({"Config": cname, "RepoTags": tags, "Layers": ["l%d/layer.tar" % i]})
    open(os.path.join(src, "manifest.json"), "wb").write(jbytes(entries))
    return tar_of(src, os.path.join(tmp, name + ".tar"))


def test_tags(server, client, tmp):
    """Tags as image tools write them: buildah's RepoTags name one tag twice; a --tag that is
    not among several images' names; no tag at all warns, or fails with --require-tag."""
    repo = "push/tags"
    buildah = docker_save_tar(tmp, "buildah", [["docker.io/library/bimg:v2",
                                                 "localhost/bimg:v2"]])
    blobs, images, r = push(server, repo, buildah)
    check(images and images[0]["tag"] == "v2" and images[0]["status"] == "pushed" and
          "untagged" not in r.stderr,
          "buildah's two names for v2: pushed as v2 (%s %r)" % (images, r.stderr))
    two = docker_save_tar(tmp, "two", [["app:a"], ["app:b"]])
    r = run(["push", "--repository", repo, "--tag", "nope", two], creds_env(server.url))
    check(r.returncode == 2 and "none is named nope" in r.stderr and "app:a, app:b" in r.stderr,
          "--tag not among the names: refused, the names listed (%r)" % r.stderr)
    r = run(["push", "--repository", repo, two], creds_env(server.url))
    check(r.returncode == 2 and "say which with --tag" in r.stderr and "app:a" in r.stderr,
          "several images, no --tag: the names listed (%r)" % r.stderr)
    untagged = docker_save_tar(tmp, "untagged", [[]])
    blobs, images, r = push(server, repo, untagged)
    check(images and images[0]["tag"] is None and "names no tag" in r.stderr and
          "--require-tag" in r.stderr, "untagged: pushed, with a warning (%r)" % r.stderr)
    r = run(["push", "--repository", repo, "--require-tag", untagged], creds_env(server.url))
    check(r.returncode == 2 and "names no tag and --require-tag" in r.stderr and r.stdout == "",
          "--require-tag: an untagged push refused before anything is sent (%r)" % r.stderr)
    r = run(["push", "--repository", repo, "--require-tag", "--tag", "t1", untagged],
            creds_env(server.url))
    check(r.returncode == 0, "--require-tag with --tag: pushed (%r)" % r.stderr[-500:])


def test_index(server, client, tmp):
    repo = "push/multi"
    lay = Layout(os.path.join(tmp, "multi"))
    a, da = lay.image([1 * MiB], arch="amd64")
    b, db = lay.image([2 * MiB], arch="arm64")
    idx = jbytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [a, b]})
    lay.add(dict(lay.blob(idx), mediaType=OCI_INDEX), ref="multi")
    lay.write()
    blobs, images, _ = push(server, repo, lay.root)
    check(len(blobs) == 4, "index: two configs and two layers: %d" % len(blobs))
    check([i["manifest"] for i in images] == [a["digest"], b["digest"], digest_of(idx)] and
          [i["tag"] for i in images] == [None, None, "multi"] and
          all(i["status"] == "pushed" for i in images),
          "index: each platform's manifest by digest, then the index under the tag: %s" % images)
    im = stored_image(client, repo, tag="multi")
    check(im is not None and im["imageManifest"].encode() == idx, "index: stored byte for byte")
    check(stored_image(client, repo, digest=b["digest"]) is not None,
          "index: a platform's manifest is there by digest")

    # an index.json entry without mediaType: the manifest's own says what it is
    bare = Layout(os.path.join(tmp, "bare"))
    d, _ = bare.image([3000])
    bare.add({"digest": d["digest"], "size": d["size"]}, ref="bare")
    bare.write()
    blobs, images, _ = push(server, repo, bare.root)
    check(images and images[0]["status"] == "pushed" and images[0]["mediaType"] == OCI_MANIFEST,
          "index entry without mediaType: pushed as the manifest says: %s" % images)

    # exported for one platform: the index names a manifest the layout lacks
    one = os.path.join(tmp, "multi-one")
    shutil.copytree(lay.root, one)
    os.remove(os.path.join(one, "blobs", "sha256", b["digest"][7:]))
    r = run(["push", "--repository", repo, one], creds_env(server.url))
    check(r.returncode == 2 and b["digest"] in r.stderr and "is not in it" in r.stderr,
          "index missing a platform's manifest: refused naming it (%d: %r)" %
          (r.returncode, r.stderr))


def test_platforms(server, client, tmp):
    """An index.json that lists the platform manifests itself (no names) is one image, put as
    an index; --platform pushes one platform alone, from it or from a named index."""
    repo = "push/multi"
    lay = Layout(os.path.join(tmp, "flat"))
    a, _ = lay.image([1 * MiB + 1], arch="amd64")
    b, _ = lay.image([1 * MiB + 2], arch="arm64")
    a = dict(a, platform={"os": "linux", "architecture": "amd64"})
    b = dict(b, platform={"os": "linux", "architecture": "arm64", "variant": "v8"})
    lay.add(a)
    lay.add(b)
    lay.write()
    blobs, images, r = push(server, repo, lay.root, "--tag", "flat")
    with open(os.path.join(lay.root, "index.json"), "rb") as f:
        index_bytes = f.read()
    check([i["manifest"] for i in images] == [a["digest"], b["digest"], digest_of(index_bytes)]
          and [i["tag"] for i in images] == [None, None, "flat"],
          "platform entries: both manifests, then index.json as the index under the tag: %s"
          % images)
    im = stored_image(client, repo, tag="flat")
    check(im is not None and im["imageManifest"].encode() == index_bytes and
          im.get("imageManifestMediaType") == OCI_INDEX,
          "platform entries: the index stored byte for byte, as an OCI index")

    blobs, images, r = push(server, repo, lay.root, "--tag", "arm", "--platform", "linux/arm64")
    check([i["manifest"] for i in images] == [b["digest"]] and images[0]["tag"] == "arm",
          "--platform linux/arm64: that manifest alone, under the tag: %s" % images)
    r = run(["push", "--repository", repo, "--platform", "linux/s390x", lay.root],
            creds_env(server.url))
    check(r.returncode == 2 and "no image for linux/s390x" in r.stderr and
          "linux/amd64, linux/arm64/v8" in r.stderr,
          "--platform absent: refused, the platforms listed (%r)" % r.stderr)
    r = run(["push", "--repository", repo, "--platform", "linux", lay.root],
            creds_env(server.url))
    check(r.returncode == 2 and "is not os/arch" in r.stderr, "--platform malformed (%r)"
          % r.stderr)

    # A named index (what docker save writes): --platform looks inside it.
    named = Layout(os.path.join(tmp, "named"))
    c, _ = named.image([4000], arch="amd64")
    d, _ = named.image([5000], arch="arm64")
    c = dict(c, platform={"os": "linux", "architecture": "amd64"})
    d = dict(d, platform={"os": "linux", "architecture": "arm64"})
    idx = jbytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [c, d]})
    named.add(dict(named.blob(idx), mediaType=OCI_INDEX), ref="app:v3")
    named.write()
    blobs, images, r = push(server, repo, named.root, "--platform", "linux/amd64")
    check([i["manifest"] for i in images] == [c["digest"]] and images[0]["tag"] == "v3",
          "--platform inside a named index: the amd64 manifest under its tag: %s" % images)


def test_refused(server, tmp, lay, desc):
    repo = "push/app"
    env = creds_env(server.url)

    def refused(args, words, what):
        r = run(["push", "--repository", repo, *args], env)
        check(r.returncode == 2 and all(w in r.stderr for w in words) and r.stdout == "",
              "%s: exit 2 naming %s (got %d: %r)" % (what, words, r.returncode, r.stderr))

    refused([tmp], ["not an image", "index.json"], "a directory that is not a layout")
    refused([os.path.join(tmp, "nope")], ["no such file"], "a missing path")
    refused(["--tag", "-bad", lay.root], ["--tag", "-bad"], "a tag ECR refuses")
    refused([lay.root, lay.root], ["one image at a time"], "two images")
    refused(["--tag"], ["--tag"], "--tag without a value")
    notar = os.path.join(tmp, "not.tar")
    open(notar, "wb").write(os.urandom(4096))
    refused([notar], ["not a tar file"], "a file that is not a tarball")

    # damaged copies of the layout
    def damaged(name, change, words, what):
        d = os.path.join(tmp, name)
        shutil.copytree(lay.root, d)
        change(d)
        refused([d], words, what)

    mpath = lambda d: os.path.join(d, "blobs", "sha256", desc["digest"][7:])  # noqa: E731
    damaged("dmg-manifest", lambda d: open(mpath(d), "ab").write(b" "),
            ["does not hash to its name"], "a manifest whose bytes changed")
    m = json.loads(open(mpath(lay.root), "rb").read())
    layer0 = m["layers"][0]["digest"][7:]
    damaged("dmg-missing", lambda d: os.remove(os.path.join(d, "blobs", "sha256", layer0)),
            ["has no blobs/sha256/" + layer0], "a missing layer blob")
    damaged("dmg-short", lambda d: open(os.path.join(d, "blobs", "sha256", layer0), "r+b")
            .truncate(10), ["blobs/sha256/" + layer0, "10 bytes"], "a layer blob of the wrong size")
    damaged("dmg-version", lambda d: open(os.path.join(d, "oci-layout"), "w")
            .write('{"imageLayoutVersion":"2.0.0"}'), ["imageLayoutVersion", "2.0.0"],
            "an unknown layout version")

    # several images: --tag picks one, none is refused with the names it has
    two = os.path.join(tmp, "two")
    shutil.copytree(lay.root, two)
    l2 = Layout(two)
    l2.index = json.loads(open(os.path.join(two, "index.json")).read())["manifests"]
    other, _ = l2.image([4096])
    l2.add(other, ref="v2")
    l2.write()
    refused([two], ["2 images", "--tag", "v1", "v2"], "a layout of two images without --tag")
    blobs, images, _ = push(server, repo, two, "--tag", "v2")
    check(images and images[0]["manifest"] == other["digest"] and images[0]["tag"] == "v2",
          "--tag picks the image of that name: %s" % images)

    # a truncated tarball
    tpath = tar_of(lay.root, os.path.join(tmp, "cut.tar"))
    size = os.path.getsize(tpath)
    with open(tpath, "r+b") as f:
        f.truncate(size // 2)
    refused([tpath], ["cut short"], "a truncated tarball")


def test_faults(tmp):
    """Throttling everywhere, and PutImage failing half the time or lost after it was acted
    on: retried until it stands (a lost put answers ImageAlreadyExists on the retry)."""
    repo = "push/faults"
    server = Server("--repository", repo, "--faults",
                    "seed=7,*:throttle=0.1,PutImage:500=0.4:lost=0.3")
    try:
        lay = Layout(os.path.join(tmp, "faults"))
        images_made = []
        for i in range(4):
            desc, datas = lay.image([MiB + i])
            lay.add(desc, ref="f%d" % i)
            images_made.append((desc, datas))
        lay.write()
        client = ecr(server.url)
        env = creds_env(server.url, AWS_MAX_ATTEMPTS="15")
        attempts = retried = 0
        for i, (desc, datas) in enumerate(images_made):
            r = run(["push", "--repository", repo, "--json", "--tag", "f%d" % i, lay.root], env)
            lines = [json.loads(l) for l in r.stdout.splitlines()]
            img = [l for l in lines if "image" in l]
            check(r.returncode == 0 and img and img[0]["status"] in ("pushed", "exists"),
                  "faults: image f%d stands (exit %d: %s %s)" % (i, r.returncode, img,
                                                                 r.stderr[-800:]))
            attempts += img[0]["attempts"] if img else 0
            check(img and img[0]["requests"] == 1 and
                  img[0]["retries"] == img[0]["attempts"] - 1,
                  "faults: PutImage is one request, its other sends retries: %s" % img)
            blobs = [l for l in lines if "file" in l]
            check(all(b["attempts"] == b["requests"] + b["retries"] for b in blobs),
                  "faults: each blob's attempts are its requests and retries: %s" % blobs)
            retried += sum(b["retries"] for b in blobs)
            im = stored_image(client, repo, tag="f%d" % i)
            check(im is not None and im["imageId"]["imageDigest"] == desc["digest"],
                  "faults: f%d names its manifest" % i)
            check_blobs_stored(server, datas, "faults f%d" % i)
        check(attempts > len(images_made), "faults: PutImage was retried (%d attempts for %d)"
              % (attempts, len(images_made)))
        check(retried > 0, "faults: throttled blob requests were counted as retries")
    finally:
        server.stop()


def test_missing_repository(server, tmp, lay):
    blobs, images, r = push(server, "no/such-repo", lay.root, expect=1)
    check(blobs and all(b["status"] == "failed" and b["error"] == "RepositoryNotFoundException"
                        for b in blobs), "missing repository: blobs fail: %s" % blobs)
    check(len(images) == 1 and images[0]["status"] == "failed" and
          images[0]["error"] == "RepositoryNotFoundException" and
          images[0]["message"] == "not put: 4 of its 4 blobs failed" and
          images[0]["attempts"] == images[0]["requests"] == images[0]["retries"] == 0 and
          list(images[0]) == IMAGE_KEYS + ["error", "message"],
          "missing repository: the manifest's line says it was not put, and why: %s" % images)
    check(r.stderr.count("RepositoryNotFoundException") == 1 and
          "aws ecr create-repository --repository-name no/such-repo" in r.stderr,
          "missing repository: said once on stderr with the hint: %r" % r.stderr)
    # Plain: nothing on stdout but the repository line and the summary, which says the image
    # was not put.
    r = run(["push", "--repository", "no/such-repo", lay.root], creds_env(server.url))
    check(r.returncode == 1 and r.stdout.strip().splitlines()[1:] ==
          [l for l in r.stdout.strip().splitlines() if l.startswith("blobs: 0 pushed")] and
          r.stdout.startswith("The push refers to repository [127.0.0.1:") and
          "blobs: 0 pushed, 0 existed, 4 failed;" in r.stdout and
          "image not put: 4 of its 4 blobs failed" in r.stdout,
          "missing repository, plain: the summary says the image was not put: %r" % r.stdout)
    check(r.stderr.count("RepositoryNotFoundException") == 1 and
          "not put: 4 of its 4 blobs failed" in r.stderr,
          "missing repository, plain: the exception once, the manifest on stderr: %r" % r.stderr)
    # --create-repository: made, then the image pushed; boto3 sees both.
    blobs, images, r = push(server, "push/made", lay.root, "--create-repository")
    check(images and images[0]["status"] == "pushed" and "created repository push/made" in
          r.stderr, "--create-repository: made and pushed: %s %r" % (images, r.stderr))
    client = ecr(server.url)
    check(stored_image(client, "push/made", tag="v1") is not None,
          "--create-repository: boto3 reads the image back")
    try:
        client.create_repository(repositoryName="push/made")
        check(False, "boto3: CreateRepository of push/made refused as existing")
    except client.exceptions.RepositoryAlreadyExistsException:
        pass


def test_partial(server, tmp):
    """An index whose arm64 image has a layer whose bytes are not its digest's (the service
    refuses it at completion): the amd64 image is put, the arm64 one and the index are not,
    each line saying why."""
    repo = "push/multi"
    lay = Layout(os.path.join(tmp, "partial"))
    a, _ = lay.image([1500], arch="amd64")
    b, datas = lay.image([700, 2500], arch="arm64")
    idx = jbytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [a, b]})
    lay.add(dict(lay.blob(idx), mediaType=OCI_INDEX), ref="partial")
    lay.write()
    bad = digest_of(datas[2])
    with open(os.path.join(lay.root, "blobs", "sha256", bad[7:]), "wb") as f:
        f.write(os.urandom(len(datas[2])))  # same size: the layout still reads
    blobs, images, r = push(server, repo, lay.root, expect=1)
    failed = [b_ for b_ in blobs if b_["status"] == "failed"]
    check(len(failed) == 1 and failed[0]["digest"] == bad,
          "partial: the damaged layer fails alone: %s" % blobs)
    err = failed[0]["error"] if failed else None
    got = [(i["manifest"], i["status"], i.get("error"), i.get("message")) for i in images]
    check(got == [(a["digest"], "pushed", None, None),
                  (b["digest"], "failed", err, "not put: 1 of its 3 blobs failed"),
                  (digest_of(idx), "failed", err,
                   "not put: 1 of its 2 manifests was not put")],
          "partial: a line per manifest, the failed ones saying why: %s" % got)
    check(stored_image(ecr(server.url), repo, digest=a["digest"]) is not None,
          "partial: the amd64 image is there by digest")
    r = run(["push", "--repository", repo, lay.root], creds_env(server.url))
    check(r.returncode == 1 and "image not put: 1 of its 2 manifests was not put" in r.stdout
          and str(err) in r.stderr and "failed" not in r.stdout.replace("1 failed", ""),
          "partial, plain: failures on stderr, the summary says the image was not put: %r %r"
          % (r.stdout, r.stderr))


def test_not_sent(tmp, lay):
    """Nothing sent (no region), or a push stopped by Ctrl-C: still a line per manifest, saying
    why it was not put."""
    env = clean_env(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
                    AWS_ENDPOINT_URL="http://127.0.0.1:9")
    r = run(["push", "--json", "--repository", "push/app", lay.root], env)
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    images = [l for l in lines if "image" in l]
    check(r.returncode == 1 and len(lines) == 5 and len(images) == 1 and
          images[0]["status"] == "failed" and images[0]["error"] == "NoRegion" and
          images[0]["message"] == "not put: 4 of its 4 blobs failed",
          "no region: the manifest's line says it was not put (%d %r)" % (r.returncode, r.stdout))

    server = Server("--repository", "push/slow", "--faults", "delay=1500")
    try:
        proc = subprocess.Popen([BIN, "push", "--json", "-v", "--repository", "push/slow",
                                 lay.root], env=creds_env(server.url), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        proc.stderr.readline()  # the first request: the run is under way
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        lines = [json.loads(l) for l in out.splitlines()]
        images = [l for l in lines if "image" in l]
        check(proc.returncode == 130 and len(images) == 1 and
              images[0]["status"] == "failed" and images[0]["error"] == "Cancelled" and
              images[0]["message"] == "not put: interrupted" and images[0]["requests"] == 0,
              "Ctrl-C: the manifest's line says it was not put (%s %r)" % (proc.returncode, out))
    finally:
        server.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-push-")
    server = Server("--repository", "push/app", "--repository", "push/tar", "--repository",
                    "push/docker", "--repository", "push/multi", "--repository", "push/tags")
    try:
        client = ecr(server.url)
        lay, desc, _ = test_layout(server, client, tmp)
        test_layout_tar(server, client, tmp)
        test_docker_save(server, client, tmp, tarfile.GNU_FORMAT, "gnu")
        test_docker_save(server, client, tmp, tarfile.PAX_FORMAT, "pax")
        test_docker_save(server, client, tmp, tarfile.USTAR_FORMAT, "ustar")  # name prefix
        test_index(server, client, tmp)
        test_tags(server, client, tmp)
        test_platforms(server, client, tmp)
        test_refused(server, tmp, lay, desc)
        test_missing_repository(server, tmp, lay)
        test_partial(server, tmp)
        test_not_sent(tmp, lay)
        test_faults(tmp)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    finish("test_cli_push")


if __name__ == "__main__":
    main()

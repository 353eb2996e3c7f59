#!/usr/bin/env python3
"""Images and layers that come as a stream, against `ecrup serve` on loopback: `ecrup push -`
(a tarball on standard input, through a pipe), gzip-compressed tarballs (from a file and from
a pipe), and `ecrup upload-layer -` (`tar c | zstd | ecrup upload-layer -`). Each image read
back with boto3 (BatchGetImage) and from the server's store, byte for byte, and compared with
the same image pushed from a file: the same manifest digest.

- an OCI layout tarball: its blobs are named by digest, so a second push checks each first and
  sends no part; a classic docker-save tarball (a layer twice, once as a symbolic link), whose
  layers' digests are computed as they pass; one skopeo writes (docker-archive);
- a tarball several times the memory limit through a pipe: the peak RSS stays near the limit;
- small blobs read ahead and sent together (the first not sent while the second is read);
- --require-tag on a stream that names no tag: the blobs go up, the manifest is not put;
- refused: zstd input (with the command that decompresses it), a damaged gzip stream, a
  stream cut short, '-' given twice to upload-layer."""
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import BIN, BUILD, MiB, Server, check, creds_env, finish  # noqa: E402
import test_cli_push as tp  # noqa: E402


def push_pipe(server, repo, producer, *opts, expect=0, json_out=True, tool="push"):
    """`producer | ecrup <tool> --repository repo [--json] opts -` through a real pipe:
    (blob lines, image lines, process)."""
    env = creds_env(server.url)
    cmd = [BIN, tool, "--repository", repo] + (["--json"] if json_out else []) + list(opts) + ["-"]
    prod = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    r = subprocess.run(cmd, stdin=prod.stdout, env=env, capture_output=True, text=True,
                       timeout=300)
    prod.stdout.close()
    prod.wait()
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")] if json_out else []
    check(r.returncode == expect, "%s %s | %s -: exit %d (got %d: %s)" %
          (os.path.basename(producer[-1]), " ".join(producer[:1]), tool, expect, r.returncode,
           r.stderr[-1500:]))
    return [l for l in lines if "file" in l], [l for l in lines if "image" in l], r


def oci_tarball(tmp, name, sizes, ref):
    lay = tp.Layout(os.path.join(tmp, name + "-src"))
    desc, datas = lay.image(sizes)
    lay.add(desc, ref=ref)
    lay.write()
    # blobs first, index.json and oci-layout last, as docker save writes them since Docker 25
    path = tp.tar_of(lay.root, os.path.join(tmp, name + ".tar"), ["blobs", "index.json",
                                                                   "oci-layout"])
    return path, desc, datas


def test_oci(server, client, tmp):
    repo = "stream/oci"
    path, desc, datas = oci_tarball(tmp, "oci", [3 * MiB + 5, 1, 12 * MiB + 1], "v1")
    blobs, images, r = push_pipe(server, repo, ["cat", path], "--part-size", "5M")
    check(len(blobs) == 4 and all(b["status"] == "uploaded" for b in blobs),
          "push - (OCI): config and 3 layers uploaded: %s" % blobs)
    check(sorted(b["digest"] for b in blobs) == sorted(tp.digest_of(d) for d in datas),
          "push - (OCI): the blobs are the manifest's")
    check(all(b["file"].startswith("-/blobs/sha256/") for b in blobs),
          "push - (OCI): blobs named as members of '-': %s" % [b["file"] for b in blobs])
    check(len(images) == 1 and images[0]["status"] == "pushed" and images[0]["tag"] == "v1" and
          images[0]["manifest"] == desc["digest"], "push - (OCI): manifest put as v1: %s" % images)
    tp.check_blobs_stored(server, datas, "push - (OCI)")
    im = tp.stored_image(client, repo, tag="v1")
    check(im is not None and im["imageId"]["imageDigest"] == desc["digest"],
          "push - (OCI): BatchGetImage finds v1")
    # again: every blob's digest is its name, so each is checked first: no part is sent
    blobs, images, _ = push_pipe(server, repo, ["cat", path])
    check(len(blobs) == 4 and all(b["status"] == "exists" and b["parts"] == 0 for b in blobs),
          "push - (OCI) again: every blob exists, no part sent: %s" % blobs)
    check(images and images[0]["status"] == "exists", "push - (OCI) again: manifest exists")

    # gzip: from a file (detected by its first bytes) and through a pipe; -v says so
    gz = path + ".gz"
    with open(path, "rb") as f, gzip.open(gz, "wb", compresslevel=1) as g:
        shutil.copyfileobj(f, g)
    r = subprocess.run([BIN, "push", "--repository", "stream/gz", "--json", "-v", gz],
                       env=creds_env(server.url), capture_output=True, text=True, timeout=300)
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    images = [l for l in lines if "image" in l]
    check(r.returncode == 0 and images and images[0]["manifest"] == desc["digest"] and
          images[0]["status"] == "pushed", "push FILE.tar.gz: pushed: %s %s" %
          (images, r.stderr[-800:]))
    check("as a stream (gzip)" in r.stderr, "push -v FILE.tar.gz says it reads gzip: %r" %
          r.stderr[-800:])
    check(tp.stored_image(client, "stream/gz", tag="v1") is not None,
          "push FILE.tar.gz: BatchGetImage finds v1")
    blobs, images, _ = push_pipe(server, "stream/gzpipe", ["gzip", "-c", "-1", path])
    check(images and images[0]["manifest"] == desc["digest"] and images[0]["status"] == "pushed",
          "gzip -c | push -: pushed: %s" % images)
    tp.check_blobs_stored(server, datas, "gzip -c | push -")

    # plain output: docker's first and last lines
    blobs, images, r = push_pipe(server, repo, ["cat", path], json_out=False)
    lines = r.stdout.splitlines()
    check(lines and lines[0].startswith("The push refers to repository [") and
          lines[-1] == "v1: digest: %s size: %d" % (desc["digest"], desc["size"]),
          "push - plain: opens with the repository, ends with the image line: %r" % r.stdout)
    return path, desc


def docker_save(tmp, name, layers, tag):
    """A classic docker-save tarball: layer folders first, the last layer repeated as a
    symbolic link, then the config, manifest.json and repositories."""
    src = os.path.join(tmp, name + "-src")
    os.makedirs(src)
    names = []
    for i, data in enumerate(layers):
        os.makedirs(os.path.join(src, "l%d" % i))
        with open(os.path.join(src, "l%d" % i, "layer.tar"), "wb") as f:
            f.write(data)
        names.append("l%d/layer.tar" % i)
    os.makedirs(os.path.join(src, "l9"))
    os.symlink("../l0/layer.tar", os.path.join(src, "l9", "layer.tar"))
    names.append("l9/layer.tar")
    diff_ids = [tp.digest_of(d) for d in layers] + [tp.digest_of(layers[0])]
    config = tp.jbytes({"architecture": "amd64", "os": "linux",
                        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    cname = tp.digest_of(config)[7:] + ".json"
    open(os.path.join(src, cname), "wb").write(config)
    open(os.path.join(src, "manifest.json"), "wb").write(
        tp.jbytes([{"Config": cname, "RepoTags": ["app:" + tag], "Layers": names}]))
    open(os.path.join(src, "repositories"), "wb").write(tp.jbytes({"app": {tag: "x"}}))
    order = ["l%d" % i for i in range(len(layers))] + ["l9", cname, "manifest.json",
                                                       "repositories"]
    return tp.tar_of(src, os.path.join(tmp, name + ".tar"), order), config


def test_docker(server, client, tmp):
    repo = "stream/docker"
    layers = [os.urandom(n) for n in (6 * MiB + 3, 333, 2 * MiB)]
    path, config = docker_save(tmp, "docker", layers, "d1")
    blobs, images, r = push_pipe(server, repo, ["cat", path])
    check(len(blobs) == 4 and all(b["status"] == "uploaded" for b in blobs),
          "docker save | push -: 3 layers and the config uploaded: %s" % blobs)
    tp.check_blobs_stored(server, [config] + layers, "docker save | push -")
    check(images and images[0]["tag"] == "d1" and images[0]["status"] == "pushed",
          "docker save | push -: pushed as d1: %s" % images)
    # the same tarball from the file: the same manifest
    _, fimages, _ = tp.push(server, "stream/docker-file", path)
    check(fimages and images and fimages[0]["manifest"] == images[0]["manifest"],
          "docker save: the manifest from the stream is the one from the file (%s, %s)" %
          (images and images[0]["manifest"], fimages and fimages[0]["manifest"]))
    im = tp.stored_image(client, repo, tag="d1")
    m = json.loads(im["imageManifest"]) if im else {}
    check([l["digest"] for l in m.get("layers", [])] ==
          [tp.digest_of(d) for d in layers] + [tp.digest_of(layers[0])],
          "docker save | push -: the manifest names the layers in order, the repeated one too")

    # --require-tag on a stream without a tag: blobs up, no manifest put, exit 1
    untagged, _ = docker_save(tmp, "untagged", [os.urandom(5000)], "x")
    src = untagged[:-4] + "-src"
    open(os.path.join(src, "manifest.json"), "wb").write(
        tp.jbytes([{"Config": [n for n in os.listdir(src) if n.endswith(".json") and
                               n != "manifest.json"][0],
                    "RepoTags": None, "Layers": ["l0/layer.tar", "l9/layer.tar"]}]))
    tp.tar_of(src, untagged)
    blobs, images, r = push_pipe(server, repo, ["cat", untagged], "--require-tag", expect=1)
    check(blobs and all(b["status"] == "uploaded" for b in blobs) and not images and
          "--require-tag" in r.stderr and "the blobs are up" in r.stderr,
          "--require-tag on an untagged stream: blobs up, no manifest, said: %s %r" %
          (blobs, r.stderr[-600:]))


def test_skopeo(server, client, tmp, oci_path, desc):
    """An archive skopeo writes (docker-archive: layers named <hex>.tar, the config, then
    manifest.json), piped in."""
    if not shutil.which("skopeo"):
        check(False, "skopeo is installed (scripts/setup-deps)")
        return
    src = os.path.join(tmp, "skopeo-oci")
    os.makedirs(src)
    with tarfile.open(oci_path) as t:
        t.extractall(src)
    arch = os.path.join(tmp, "skopeo-docker.tar")
    r = subprocess.run(["skopeo", "copy", "--insecure-policy", "oci:%s:v1" % src,
                        "docker-archive:%s:app:s1" % arch], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, "skopeo copy to docker-archive: %s" % r.stderr[-500:])
    blobs, images, _ = push_pipe(server, "stream/skopeo", ["cat", arch])
    check(images and images[0]["tag"] == "s1" and images[0]["status"] == "pushed",
          "skopeo docker-archive | push -: pushed as s1: %s" % images)
    _, fimages, _ = tp.push(server, "stream/skopeo-file", arch)
    check(fimages and images and fimages[0]["manifest"] == images[0]["manifest"],
          "skopeo docker-archive: the stream's manifest is the file's")


def peak_rss(cmd_line, env):
    """Run `cmd_line` under bash in a child python, which reports its children's peak RSS."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run(['bash', '-c', sys.argv[1]])\n"
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    r = subprocess.run([sys.executable, "-c", code, cmd_line], env=env, capture_output=True,
                       text=True, timeout=600)
    rc, kb = r.stdout.split()[-2:]
    return int(rc), int(kb) * 1024, r


def pax_size_tar(lay_root, path, big_digest):
    """The layout as a tarball whose blob `big_digest` has its size only in a pax record, its
    header's field 0: how Go's archive/tar (docker save) and tarfile write members of 8 GiB
    and more."""
    import io
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name in ("index.json", "oci-layout"):
            t.add(os.path.join(lay_root, name), arcname=name)
        blobs = os.path.join(lay_root, "blobs", "sha256")
        for hexd in sorted(os.listdir(blobs)):
            name = "blobs/sha256/" + hexd
            data = open(os.path.join(blobs, hexd), "rb").read()
            if "sha256:" + hexd != big_digest:
                t.addfile(t.gettarinfo(os.path.join(blobs, hexd), arcname=name),
                          io.BytesIO(data))
                continue
            pax = tarfile.TarInfo._create_pax_generic_header({"size": str(len(data))},
                                                               tarfile.XHDTYPE, "utf-8")
            head = tarfile.TarInfo(name)
            head.size = 0
            t.fileobj.write(pax + head.tobuf(tarfile.USTAR_FORMAT) + data +
                            b"\0" * (-len(data) % 512))
            t.offset += len(pax) + 512 + len(data) + (-len(data) % 512)
    with open(path, "wb") as f:
        f.write(out.getvalue())
    return path


def test_pax_size(server, client, tmp):
    """A blob whose size is only in a pax record, from the file and from a pipe."""
    lay = tp.Layout(os.path.join(tmp, "pax-src"))
    desc, datas = lay.image([6 * MiB + 9, 4000])
    lay.add(desc, ref="p1")
    lay.write()
    path = pax_size_tar(lay.root, os.path.join(tmp, "pax.tar"), tp.digest_of(datas[1]))
    with tarfile.open(path) as t:
        sizes = {m.name: m.size for m in t.getmembers()}
    check(sizes.get("blobs/sha256/" + tp.digest_of(datas[1])[7:]) == len(datas[1]),
          "pax size: tarfile reads the blob's size from the pax record")
    _, images, r = tp.push(server, "stream/pax", path)
    check(images and images[0]["status"] == "pushed" and images[0]["manifest"] == desc["digest"],
          "pax size: pushed from the file: %s %r" % (images, r.stderr[-500:]))
    _, images, r = push_pipe(server, "stream/pax-pipe", ["cat", path])
    check(images and images[0]["status"] == "pushed" and images[0]["manifest"] == desc["digest"],
          "pax size: pushed from a pipe: %s" % images)
    tp.check_blobs_stored(server, datas, "pax size")


def test_memory(server, tmp):
    """A tarball several times the memory limit, through a pipe: blobs are sent as they pass,
    so the peak stays near the limit, not near the tarball."""
    limit = 48 * MiB
    path, desc, datas = oci_tarball(tmp, "big", [96 * MiB + 7, 64 * MiB, 80 * MiB + 1], "big")
    size = os.path.getsize(path)
    env = creds_env(server.url)
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    m = re.search(r"^ECRUP_SANITIZE:STRING=(.*)$", cache, re.M)
    sanitize = m.group(1) if m else ""
    shadow = 4 if "thread" in sanitize else 2 if sanitize else 1
    rc, base, _ = peak_rss("%s --version" % BIN, env)
    rc, peak, r = peak_rss("cat %s | %s push --repository stream/big --json --memory-limit %d "
                           "--part-size 5M -" % (path, BIN, limit), env)
    images = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{"image"')]
    check(rc == 0 and images and images[0]["status"] == "pushed",
          "a %d MiB tarball through a pipe: pushed (%s)" % (size // MiB, r.stdout[-400:]))
    allowed = base + limit * shadow + 48 * MiB
    print("push - of %d MiB with --memory-limit %d MiB: peak RSS %d MiB (allowed %d MiB)" %
          (size // MiB, limit // MiB, peak // MiB, allowed // MiB))
    check(peak <= allowed, "push -: peak RSS %d MiB within the limit + constant (%d MiB)" %
          (peak // MiB, allowed // MiB))
    check(peak < size // 2, "push -: peak RSS %d MiB far below the %d MiB tarball" %
          (peak // MiB, size // MiB))
    tp.check_blobs_stored(server, datas, "push - of a large tarball")


PAUSED_PRODUCER = """
import os, sys, time
path, cut, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
out = sys.stdout.buffer
out.write(data[:cut])
out.flush()
deadline = time.monotonic() + 60
while not os.path.exists(flag) and time.monotonic() < deadline:
    time.sleep(0.05)
out.write(data[cut:])
out.flush()
"""


def test_small_blobs_together(server, client, tmp):
    """Small blobs are read ahead and sent together: while the producer pauses inside the
    second small layer, the first is not yet sent (one at a time, it would be stored by then);
    once the stream goes on, the image is pushed whole."""
    path, desc, datas = oci_tarball(tmp, "small", [200000, 300000, 400000], "s1")
    with tarfile.open(path) as t:
        members = [m for m in t.getmembers() if m.isfile()]
        blobs = [(m, t.extractfile(m).read()) for m in members if m.name.startswith("blobs/")]
    layers = [(m, d) for m, d in blobs if not d.startswith(b"{")]
    check(len(layers) == 3, "small blobs: three layer members in the tarball")
    first, second = layers[0], layers[1]
    cut = second[0].offset_data + 1000  # inside the second layer's bytes
    flag = os.path.join(tmp, "small.go")
    env = creds_env(server.url)
    prod = subprocess.Popen([sys.executable, "-c", PAUSED_PRODUCER, path, str(cut), flag],
                            stdout=subprocess.PIPE)
    push = subprocess.Popen([BIN, "push", "--repository", "stream/small", "--json", "-"],
                            stdin=prod.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    prod.stdout.close()
    first_digest = tp.digest_of(first[1])
    t0 = time.monotonic()
    early = None
    while time.monotonic() - t0 < 2:
        if server.blob(first_digest) is not None:
            early = time.monotonic() - t0
            break
        time.sleep(0.05)
    open(flag, "w").close()
    out, err = push.communicate(timeout=300)
    prod.wait()
    check(early is None, "small blobs: the first layer is not sent while the second is still "
          "being read (stored after %s s)" % early)
    images = [json.loads(l) for l in out.splitlines() if l.startswith('{"image"')]
    check(push.returncode == 0 and images and images[0]["status"] == "pushed" and
          images[0]["manifest"] == desc["digest"],
          "small blobs: the image is pushed once the stream goes on: %s %r" % (images, err[-500:]))
    tp.check_blobs_stored(server, datas, "small blobs together")
    check(tp.stored_image(client, "stream/small", tag="s1") is not None,
          "small blobs: BatchGetImage finds s1")
    # A member under blobs/sha256/ whose name is no digest goes with the batch as any blob,
    # its digest computed on the way.
    odd = path.replace(".tar", "-odd.tar")
    shutil.copy(path, odd)
    note = os.urandom(3000)
    with tarfile.open(odd, "a") as t:
        info = tarfile.TarInfo("blobs/sha256/NOTES")
        info.size = len(note)
        t.addfile(info, io.BytesIO(note))
    blobs, images, r = push_pipe(server, "stream/small", ["cat", odd])
    check(images and images[0]["status"] == "exists" and
          any(b["file"] == "-/blobs/sha256/NOTES" and b["digest"] == tp.digest_of(note) and
              b["status"] == "uploaded" for b in blobs),
          "small blobs: a blobs/sha256/ member named by no digest is sent, its digest computed: "
          "%s %s" % (blobs, images))


def test_upload_layer(server, tmp):
    """tar c | zstd | ecrup upload-layer -: the compressed bytes, pushed as one layer."""
    tree = os.path.join(tmp, "rootfs")
    os.makedirs(os.path.join(tree, "usr", "bin"))
    for i in range(3):
        with open(os.path.join(tree, "usr", "bin", "tool%d" % i), "wb") as f:
            f.write(os.urandom(3 * MiB + i))
    # the bytes the pipe will carry, made once so the test knows their digest
    zst = os.path.join(tmp, "layer.tar.zst")
    subprocess.run("tar c -C %s . | zstd -q -1 > %s" % (tree, zst), shell=True, check=True)
    want = tp.digest_of(open(zst, "rb").read())
    blobs, _, r = push_pipe(server, "stream/layer", ["cat", zst], tool="upload-layer")
    check(len(blobs) == 1 and blobs[0]["file"] == "-" and blobs[0]["digest"] == want and
          blobs[0]["size"] == os.path.getsize(zst) and blobs[0]["status"] == "uploaded",
          "zstd output | upload-layer -: uploaded with its digest: %s" % blobs)
    check(server.blob(want) == open(zst, "rb").read(), "upload-layer -: stored byte for byte")
    # straight from the pipeline; the same tree archived again is the same bytes here
    blobs, _, _ = push_pipe(server, "stream/layer2", ["bash", "-c", "tar c -C %s . | zstd -q -1"
                                                      % tree], tool="upload-layer")
    check(blobs and blobs[0]["status"] == "uploaded" and blobs[0]["digest"] == want,
          "tar c | zstd | upload-layer -: uploaded: %s" % blobs)
    # --digest with '-': present, so nothing is read or sent
    blobs, _, _ = push_pipe(server, "stream/layer", ["cat", zst], "--digest", want,
                            tool="upload-layer")
    check(blobs and blobs[0]["status"] == "exists" and blobs[0]["parts"] == 0,
          "upload-layer --digest D -: present, nothing sent: %s" % blobs)
    r = subprocess.run([BIN, "upload-layer", "--repository", "stream/layer", "-", "-"],
                       env=creds_env(server.url), capture_output=True, text=True, stdin=open(zst))
    check(r.returncode == 2 and "given twice" in r.stderr,
          "upload-layer - -: refused: %r" % r.stderr)


def test_refused(server, tmp, oci_path):
    env = creds_env(server.url)
    zst = oci_path + ".zst"
    subprocess.run(["zstd", "-q", "-f", oci_path, "-o", zst], check=True)
    r = subprocess.run([BIN, "push", "--repository", "stream/oci", zst], env=env,
                       capture_output=True, text=True)
    check(r.returncode == 2 and "zstd" in r.stderr and "zstd -dc" in r.stderr,
          "a zstd tarball: refused with the command that decompresses it: %r" % r.stderr)
    data = gzip.compress(open(oci_path, "rb").read(), compresslevel=1)
    bad = bytearray(data)
    for k in range(len(bad) // 2, len(bad) // 2 + 64):
        bad[k] ^= 0x55
    badf = os.path.join(tmp, "bad.tar.gz")
    open(badf, "wb").write(bad)
    _, images, r = push_pipe(server, "stream/oci", ["cat", badf], expect=1)
    check(not images and "gzip" in r.stderr.lower(),
          "a damaged gzip stream: no manifest put, the gzip error said: %r" % r.stderr[-600:])
    # not a tarball: refused before anything is said or sent, as a file is (exit 2)
    _, images, r = push_pipe(server, "stream/oci", ["head", "-c", "5000", "/dev/urandom"],
                             json_out=False, expect=2)
    check("not a tar file" in r.stderr and "standard input" in r.stderr and
          "The push refers to" not in r.stdout,
          "push - of bytes that are no tarball: refused first, nothing else said: %r %r" %
          (r.stdout, r.stderr))
    cut = os.path.join(tmp, "cut.tar")
    open(cut, "wb").write(open(oci_path, "rb").read()[:5 * MiB + 1000])
    _, images, r = push_pipe(server, "stream/oci", ["cat", cut], expect=1)
    check(not images and "standard input" in r.stderr,
          "a stream cut short: no manifest put, said: %r" % r.stderr[-600:])


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-push-stream-")
    repos = ["stream/oci", "stream/gz", "stream/gzpipe", "stream/docker", "stream/docker-file",
             "stream/skopeo", "stream/skopeo-file", "stream/big", "stream/layer",
             "stream/layer2", "stream/pax", "stream/pax-pipe", "stream/small"]
    server = Server(*[x for r in repos for x in ("--repository", r)])
    try:
        client = tp.ecr(server.url)
        oci_path, desc = test_oci(server, client, tmp)
        test_docker(server, client, tmp)
        test_skopeo(server, client, tmp, oci_path, desc)
        test_upload_layer(server, tmp)
        test_refused(server, tmp, oci_path)
        test_pax_size(server, client, tmp)
        test_small_blobs_together(server, client, tmp)
        test_memory(server, tmp)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    finish("test_cli_push_stream")


if __name__ == "__main__":
    main()

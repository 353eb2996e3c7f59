#!/usr/bin/env python3
"""The CLI's streams measured side by side, against a local `ecrup serve --sink`: an image
pushed from a file and from a pipe (`cat app.tar | ecrup push -`, as `docker save | ecrup push
-` feeds it), a gzip-compressed one, and a layer compressed and pushed in one pass (`tar c |
zstd | ecrup upload-layer -`) beside its producer alone; and an image of 20 small layers from
a file and from a pipe against a second endpoint whose replies are delayed (--delay-ms, a
WAN's round trip), where a stream's cost is the requests per blob. Each command runs --runs times,
interleaved, each push into a fresh repository; medians of wall time, MB/s of the tarball (or
layer) bytes, and the peak RSS of the ecrup process.

    bench/stream_cli.py --build build [--size-mib 1024] [--runs 3] [--delay-ms 30]

Needs skopeo (scripts/setup-deps), gzip, zstd and tar. Not a test: it asserts nothing."""
import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20


def jbytes(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True).encode()


def blob(root, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}


def oci_layout(root, layer_sizes):
    """An OCI layout with incompressible layers, tagged v1."""
    os.makedirs(os.path.join(root, "blobs", "sha256"))
    layers = []
    for n in layer_sizes:
        layers.append(dict(blob(root, os.urandom(n)),
                           mediaType="application/vnd.oci.image.layer.v1.tar+gzip"))
    config = jbytes({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}})
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": dict(blob(root, config), mediaType="application/vnd.oci.image.config.v1+json"),
         "layers": layers}
    desc = dict(blob(root, jbytes(m)), mediaType=m["mediaType"],
                annotations={"org.opencontainers.image.ref.name": "v1"})
    with open(os.path.join(root, "index.json"), "wb") as f:
        f.write(jbytes({"schemaVersion": 2, "manifests": [desc]}))
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


def timed(cmd, env):
    """Run shell command `cmd`; (seconds, peak RSS of its largest process in bytes)."""
    code = ("import resource, subprocess, sys, time\n"
            "t = time.monotonic()\n"
            "r = subprocess.run(['bash', '-o', 'pipefail', '-c', sys.argv[1]],"
            " stdout=subprocess.DEVNULL)\n"
            "print(r.returncode, time.monotonic() - t,"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    r = subprocess.run([sys.executable, "-c", code, cmd], env=env, capture_output=True, text=True)
    rc, secs, kb = r.stdout.split()
    if rc != "0":
        raise SystemExit("failed (%s): %s\n%s" % (rc, cmd, r.stderr[-2000:]))
    return float(secs), int(kb) * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--size-mib", type=int, default=1024, help="the image: 4 layers of a quarter")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delay-ms", type=int, default=30,
                    help="the reply delay of the second endpoint, for the small-layer image")
    a = ap.parse_args()
    ecrup = os.path.abspath(os.path.join(a.build, "ecrup"))
    tmp = tempfile.mkdtemp(prefix="ecrup-stream-bench-")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDSTREAMBENCH", AWS_SECRET_ACCESS_KEY="bench/secret",
               AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1")
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"):
        env.pop(k, None)
    def serve(*extra):
        p = subprocess.Popen([ecrup, "serve", "--listen", "127.0.0.1:0", "--sink"] + list(extra),
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = p.stdout.readline().split("listening on ")[1].split()[0]
        return p, url if url.startswith("http") else "http://" + url

    srv, url = serve()
    # A WAN's round trips: every reply delayed, for an image of 20 small layers, where a
    # stream's cost is the requests per blob rather than the bytes.
    far, far_url = serve("--faults", "delay=%d" % a.delay_ms)
    try:
        env["AWS_ENDPOINT_URL"] = url
        far_env = dict(env, AWS_ENDPOINT_URL=far_url)
        q = a.size_mib // 4 * MiB
        print("making a %d MiB image (4 layers) in %s" % (a.size_mib, tmp), file=sys.stderr)
        oci_layout(os.path.join(tmp, "oci"), [q, q, q, q])
        oci_tar = os.path.join(tmp, "app-oci.tar")
        subprocess.run(["tar", "cf", oci_tar, "-C", os.path.join(tmp, "oci"), "blobs", "index.json",
                        "oci-layout"], check=True)
        docker_tar = os.path.join(tmp, "app-docker.tar")
        subprocess.run(["skopeo", "copy", "-q", "--insecure-policy",
                        "oci:%s:v1" % os.path.join(tmp, "oci"),
                        "docker-archive:%s:app:v1" % docker_tar], check=True)
        gz = oci_tar + ".gz"
        subprocess.run("gzip -1 -c %s > %s" % (oci_tar, gz), shell=True, check=True)
        # a layer to compress: a tree of half random, half repetitive files
        tree = os.path.join(tmp, "rootfs")
        os.makedirs(tree)
        for i in range(8):
            with open(os.path.join(tree, "f%d" % i), "wb") as f:
                f.write(os.urandom(q // 16) + bytes(range(256)) * (q // 16 // 256))
        oci_layout(os.path.join(tmp, "small"), [2 * MiB] * 20)
        small_tar = os.path.join(tmp, "small-oci.tar")
        subprocess.run(["tar", "cf", small_tar, "-C", os.path.join(tmp, "small"), "blobs",
                        "index.json", "oci-layout"], check=True)
        zst = os.path.join(tmp, "layer.tar.zst")
        subprocess.run("tar c -C %s . | zstd -q -1 > %s" % (tree, zst), shell=True, check=True)
        push = "%s push --quiet --create-repository --repository" % ecrup
        upl = "%s upload-layer --quiet --create-repository --repository" % ecrup
        cases = [
            ("push docker-save tarball, file", docker_tar, push + " r%d " + docker_tar),
            ("cat docker-save tarball | push -", docker_tar, "cat %s | %s r%%d -" % (docker_tar, push)),
            ("push OCI tarball, file", oci_tar, push + " r%d " + oci_tar),
            ("cat OCI tarball | push -", oci_tar, "cat %s | %s r%%d -" % (oci_tar, push)),
            ("push OCI tarball.gz (gzip -1), file", gz, push + " r%d " + gz),
            ("gzip -dc tarball.gz > /dev/null (the inflate alone)", gz, "gzip -dc %s" % gz),
            ("upload-layer layer.tar.zst, file", zst, upl + " r%d " + zst),
            ("tar c | zstd -1 | upload-layer -", zst,
             "tar c -C %s . | zstd -q -1 | %s r%%d -" % (tree, upl)),
            ("tar c | zstd -1 > /dev/null (the producer alone)", zst,
             "tar c -C %s . | zstd -q -1" % tree),
            ("20 x 2 MiB layers, %d ms replies: push, file" % a.delay_ms, small_tar,
             push + " r%d " + small_tar, far_env),
            ("20 x 2 MiB layers, %d ms replies: cat | push -" % a.delay_ms, small_tar,
             "cat %s | %s r%%d -" % (small_tar, push), far_env),
        ]
        cases = [c if len(c) == 4 else c + (env,) for c in cases]
        results = {name: [] for name, _, _, _ in cases}
        k = 0
        for run in range(a.runs):
            for name, src, cmd, cenv in cases:
                k += 1
                secs, rss = timed(cmd.replace("%d", str(k)) if "%d" in cmd else cmd, cenv)
                results[name].append((secs, rss))
        cpu = "?"
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
        flags = open("/proc/cpuinfo").read()
        print("CPU: %s, %d cores, %s, %s; %s" %
              (cpu, os.cpu_count(), "AVX-512" if "avx512bw" in flags else "no AVX-512",
               "SHA-NI" if " sha_ni" in flags else "no SHA-NI", platform.release()))
        print("%d runs each, interleaved; medians\n" % a.runs)
        print("| command | bytes | s | MB/s | peak RSS MiB |")
        print("|---|---|---|---|---|")
        for name, src, _, _ in cases:
            secs = statistics.median(s for s, _ in results[name])
            rss = statistics.median(r for _, r in results[name])
            size = os.path.getsize(src)
            print("| %s | %d MiB | %.2f | %.0f | %.0f |" %
                  (name, size // MiB, secs, size / secs / 1e6, rss / MiB))
    finally:
        for p in (srv, far):
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

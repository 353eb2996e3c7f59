"""Resume across runs: `ecrup upload-layer` killed with SIGKILL mid-upload, then run again,
continues where the registry has the layer (docs/engine.md, "Resume").

- A 200 MiB layer killed once at least 80 MiB were confirmed: the re-run resumes at or past
  that byte and sends no more than the rest plus one part; the store holds the right bytes.
- Kill trials at random moments over three layers (seeded; against `ecrup serve --data-dir`,
  some runs with replies lost after the registry committed the part): after each re-run every
  layer is stored byte for byte, and no layer sent more than its remaining parts plus one.
- The registry ahead of the journal (every part reply lost before the kill): the re-run goes
  on from the registry's lastValidByteReceived and says so in resumed_from.
- A damaged journal, a file rewritten between the runs with its mtime put back, an upload the
  registry no longer has, --no-resume, two processes at once: a fresh upload (or a wait-free
  one for the second process), said in words, right bytes.
- `ecrup push` of an OCI layout tarball resumes its layer (a range of the tarball) the same way.
Servers run on 127.0.0.1 with their own data directories; HOME is the test's own, so the
journal lives in HOME/.local/state/ecrup."""
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_common as c  # noqa: E402
from cli_common import check  # noqa: E402

MiB = c.MiB
SEED = int(os.environ.get("ECRUP_RESUME_SEED", "20261207"))
TRIALS = 30
REPOS = ["--repository", "resume/big", "--repository", "resume/trials", "--repository",
         "resume/ahead", "--repository", "resume/edge", "--repository", "resume/push"]


def journal_dir(env):
    return os.path.join(env["HOME"], ".local", "state", "ecrup", "uploads")


def confirmed(env):
    """The bytes each journal entry says the registry confirmed: {path: bytes}."""
    out = {}
    for name in glob.glob(os.path.join(journal_dir(env), "*.journal")):
        try:
            with open(name) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        try:
            head = json.loads(lines[0].split(" ", 1)[1])
            last = json.loads(lines[-1].split(" ", 1)[1]) if len(lines) > 1 else {}
        except (IndexError, ValueError):
            continue
        out[head.get("path")] = int(last.get("confirmed", "0"))
    return out


def start(args, env):
    return subprocess.Popen([c.BIN, "upload-layer"] + args, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def json_lines(out):
    return {d["file"]: d for d in (json.loads(line) for line in out.splitlines() if line)}


def rerun(args, env, timeout=300):
    r = subprocess.run([c.BIN, "upload-layer", "--json"] + args, env=env, capture_output=True,
                       text=True, timeout=timeout)
    return r, json_lines(r.stdout)


def parts_bound(size, resumed, part):
    """The most parts a re-run may send: the rest of the layer, plus the one in flight."""
    return -(-(size - resumed) // part) + 1


def fresh_home():
    home = tempfile.mkdtemp(prefix="ecrup-resume-home-")
    return home


def env_for(server, home, **extra):
    env = c.creds_env(server.url, **extra)
    env["HOME"] = home
    env.pop("XDG_STATE_HOME", None)
    env.pop("ECRUP_STATE_DIR", None)
    return env


def kill_when(proc, env, path, at_least, timeout=120):
    """SIGKILL `proc` once the journal says `path` has `at_least` bytes confirmed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if confirmed(env).get(path, 0) >= at_least:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    return False


def test_large(tmp):
    """The issue's measure: 200 MiB, killed past 80 MiB, the re-run sends the rest + 1 part."""
    server = c.Server(*REPOS, "--part-size", "10M", "--faults", "bandwidth=40M")
    home = fresh_home()
    try:
        env = env_for(server, home)
        layer = c.make_file(tmp, "big.bin", 200 * MiB, seed=1)
        p = start(["--repository", "resume/big", layer], env)
        killed = kill_when(p, env, layer, 80 * MiB)
        got = confirmed(env).get(layer, 0)
        check(killed and got >= 80 * MiB, "killed with %d MiB confirmed" % (got // MiB))
        r, out = rerun(["--repository", "resume/big", layer], env)
        d = out.get(layer, {})
        check(r.returncode == 0 and d.get("status") == "uploaded",
              "the re-run uploaded: %r %r" % (r.stdout, r.stderr[-1500:]))
        check(d.get("resumed_from", 0) >= got,
              "resumed at or past the journaled %d: %r" % (got, d.get("resumed_from")))
        bound = parts_bound(200 * MiB, d.get("resumed_from", 0), 10 * MiB)
        check(0 < d.get("parts", 99) <= bound,
              "the re-run sent %r parts, at most %d (the rest plus one)" % (d.get("parts"), bound))
        digest = c.file_digest(layer)
        check(d.get("digest") == digest and server.blob_sha(digest) == digest,
              "the store holds the layer byte for byte")
        check(confirmed(env) == {}, "the journal entry went with the finished layer")
        print("large: killed at %d MiB confirmed, resumed_from %d MiB, %d parts re-sent"
              % (got // MiB, d.get("resumed_from", 0) // MiB, d.get("parts", 0)))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_trials(tmp):
    """Kill at random moments, SEED-seeded; half the trials lose replies after commits."""
    rnd = random.Random(SEED)
    print("kill trials: seed %d (ECRUP_RESUME_SEED replays)" % SEED)
    part = 5 * MiB
    resumed_total = 0
    for trial in range(TRIALS):
        lossy = trial % 2 == 1
        faults = "seed=%d,bandwidth=24M" % (SEED + trial)
        if lossy:
            faults += ",UploadLayerPart:lost=0.15,CompleteLayerUpload:lost=0.3"
        server = c.Server(*REPOS, "--part-size", "5M", "--faults", faults)
        home = fresh_home()
        try:
            env = env_for(server, home)
            sizes = [rnd.randrange(6 * MiB, 26 * MiB) for _ in range(3)]
            layers = [c.make_file(tmp, "t%d-%d.bin" % (trial, i), n, seed=trial * 10 + i)
                      for i, n in enumerate(sizes)]
            args = ["--repository", "resume/trials", "--part-size", "5M"] + layers
            p = start(args, env)
            time.sleep(rnd.uniform(0.05, 2.0))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
            r, out = rerun(args, env)
            ok = r.returncode == 0
            for path, size in zip(layers, sizes):
                d = out.get(path, {})
                digest = c.file_digest(path)
                ok = ok and d.get("status") in ("uploaded", "exists") and \
                    server.blob_sha(digest) == digest
                if d.get("status") == "uploaded":
                    resumed_total += d.get("resumed_from", 0) > 0
                    ok = ok and d.get("parts", 99) <= parts_bound(size, d["resumed_from"], part)
            check(ok, "trial %d (%s): every layer stored right, at most the rest plus one part "
                  "re-sent: %r %r" % (trial, "lossy" if lossy else "clean", out,
                                       r.stderr[-1500:]))
        finally:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)
        for path in layers:
            os.unlink(path)
    print("kill trials: %d layers resumed over %d trials of 3 layers" % (resumed_total, TRIALS))
    check(resumed_total >= TRIALS // 3,
          "the trials resumed layers (%d resumed uploads in %d trials)" % (resumed_total, TRIALS))


def test_registry_ahead(tmp):
    """Every part reply lost: the journal never gets past its header while the registry keeps
    the parts; the re-run is told where the registry is and goes on from there."""
    server = c.Server(*REPOS, "--part-size", "5M", "--faults", "seed=3,UploadLayerPart:lost=1.0")
    home = fresh_home()
    try:
        env = env_for(server, home)
        layer = c.make_file(tmp, "ahead.bin", 23 * MiB, seed=5)
        p = start(["--repository", "resume/ahead", "--part-size", "5M", layer], env)
        server.wait_part_acked()
        time.sleep(0.5)
        p.send_signal(signal.SIGKILL)
        p.wait()
        check(confirmed(env).get(layer) == 0, "the journal holds the upload, no bytes confirmed")
        server.remove_data = False
        server.stop()
        # The same data directory, no faults: the registry has what the lost replies hid.
        server2 = c.serve.Server(c.BIN, *REPOS, "--part-size", "5M", env=server_env(),
                                 data_dir=server.data, remove_data=True,
                                 listen=server.url.split("//", 1)[1])
        try:
            env2 = env_for(server2, home)
            r, out = rerun(["--repository", "resume/ahead", "--part-size", "5M", layer], env2)
            d = out.get(layer, {})
            digest = c.file_digest(layer)
            check(r.returncode == 0 and d.get("resumed_from", 0) >= 5 * MiB and
                  server2.blob_sha(digest) == digest,
                  "resumed from the registry's byte, not the journal's: %r %r"
                  % (d, r.stderr[-1000:]))
        finally:
            server2.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def server_env():
    return c.clean_env(AWS_ACCESS_KEY_ID=c.AKID, AWS_SECRET_ACCESS_KEY=c.SECRET,
                       AWS_SESSION_TOKEN=c.TOKEN)


def killed_midway(server, home, tmp, name, size=30 * MiB, extra=()):
    env = env_for(server, home)
    layer = c.make_file(tmp, name, size, seed=len(name))
    args = ["--repository", "resume/edge", "--part-size", "5M"] + list(extra) + [layer]
    p = start(args, env)
    check(kill_when(p, env, layer, 5 * MiB), "%s: killed mid-upload" % name)
    return env, layer, args


def test_edges(tmp):
    server = c.Server(*REPOS, "--part-size", "5M", "--faults", "bandwidth=16M")
    home = fresh_home()
    try:
        # A damaged journal: a WARN, a fresh upload, the right bytes.
        env, layer, args = killed_midway(server, home, tmp, "damaged.bin")
        for name in glob.glob(os.path.join(journal_dir(env), "*.journal")):
            with open(name, "r+b") as f:
                f.seek(10)
                f.write(b"garbage")
        r, out = rerun(args[:-1] + [layer], env)
        d = out.get(layer, {})
        check(r.returncode == 0 and d.get("resumed_from") == 0 and "damaged" in r.stderr and
              server.blob_sha(c.file_digest(layer)) == c.file_digest(layer),
              "damaged journal: warned, uploaded afresh: %r %r" % (d, r.stderr[-800:]))

        # Rewritten in place with the mtime put back: ctime tells, a fresh upload.
        env, layer, args = killed_midway(server, home, tmp, "rewritten.bin")
        st = os.stat(layer)
        with open(layer, "r+b") as f:
            f.seek(1024)
            f.write(os.urandom(4096))
        os.utime(layer, ns=(st.st_atime_ns, st.st_mtime_ns))
        r, out = rerun(args, env)
        d = out.get(layer, {})
        digest = c.file_digest(layer)
        check(r.returncode == 0 and d.get("resumed_from") == 0 and d.get("digest") == digest and
              server.blob_sha(digest) == digest and "before a change" in r.stderr,
              "rewritten file: never stitched onto the old upload: %r %r" % (d, r.stderr[-800:]))

        # --no-resume: from byte 0, the journal left alone for a later run.
        env, layer, args = killed_midway(server, home, tmp, "noresume.bin")
        before = confirmed(env).get(layer)
        r, out = rerun(["--no-resume"] + args, env)
        d = out.get(layer, {})
        check(r.returncode == 0 and d.get("resumed_from") == 0 and
              confirmed(env).get(layer) == before,
              "--no-resume: a fresh upload, the journal untouched: %r" % d)

        # Two processes at once on one file: one holds the entry, the other uploads afresh
        # without it and says so; both end with the layer stored.
        env, layer, args = killed_midway(server, home, tmp, "twice.bin")
        a = start(["-v", "--json"] + args, env)
        time.sleep(0.2)
        b = start(["-v", "--json"] + args, env)
        out_a, err_a = a.communicate(timeout=300)
        out_b, err_b = b.communicate(timeout=300)
        digest = c.file_digest(layer)
        said = "another process is uploading it" in err_a + err_b
        resumed = [json_lines(o).get(layer, {}).get("resumed_from", 0) for o in (out_a, out_b)]
        check(a.returncode == 0 and b.returncode == 0 and said and
              sorted(x > 0 for x in resumed) == [False, True] and
              server.blob_sha(digest) == digest,
              "two processes: one resumed, one uploaded afresh and said why: %r %r"
              % (resumed, (err_a + err_b)[-1500:]))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_upload_gone(tmp):
    """The registry lost the upload (expired): the entry is dropped, the layer uploads afresh."""
    server = c.Server(*REPOS, "--part-size", "5M", "--faults", "bandwidth=16M")
    home = fresh_home()
    try:
        env, layer, args = killed_midway(server, home, tmp, "gone.bin")
        data, listen = server.data, server.url.split("//", 1)[1]
        server.remove_data = False
        server.stop()
        shutil.rmtree(os.path.join(data, "uploads"))
        server2 = c.serve.Server(c.BIN, *REPOS, "--part-size", "5M", env=server_env(), data_dir=data,
                                 remove_data=True, listen=listen)
        try:
            r, out = rerun(args, env_for(server2, home))
            d = out.get(layer, {})
            digest = c.file_digest(layer)
            check(r.returncode == 0 and d.get("resumed_from") == 0 and
                  server2.blob_sha(digest) == digest,
                  "an upload the registry no longer has: afresh: %r %r" % (d, r.stderr[-800:]))
        finally:
            server2.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def oci_tarball(tmp, layer_size):
    """An OCI layout tarball of one image with one random layer; returns its path."""
    import hashlib
    import tarfile

    root = os.path.join(tmp, "layout")
    os.makedirs(os.path.join(root, "blobs", "sha256"))

    def blob(data, media):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(root, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}

    layer = os.urandom(layer_size)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [blob(layer, "application/vnd.oci.image.layer.v1.tar+gzip")]}).encode()
    desc = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
    desc["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    path = os.path.join(tmp, "image.tar")
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for name in ("oci-layout", "index.json", "blobs"):
            t.add(os.path.join(root, name), arcname=name)
    shutil.rmtree(root)
    return path, "sha256:" + hashlib.sha256(layer).hexdigest()


def test_push(tmp):
    """`ecrup push` of a tarball: the layer, a range of the tarball, resumes the same way."""
    server = c.Server(*REPOS, "--part-size", "5M", "--faults", "bandwidth=16M")
    home = fresh_home()
    try:
        env = env_for(server, home)
        tarball, layer_digest = oci_tarball(tmp, 40 * MiB)
        args = [c.BIN, "push", "--repository", "resume/push", "--part-size", "5M", "--json",
                tarball]
        p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        check(kill_when(p, env, tarball, 10 * MiB), "push: killed mid-layer")
        r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        lines = [json.loads(x) for x in r.stdout.splitlines() if x]
        layer = [d for d in lines if d.get("digest") == layer_digest and "file" in d]
        images = [d for d in lines if "image" in d]
        check(r.returncode == 0 and layer and layer[0].get("resumed_from", 0) >= 10 * MiB and
              layer[0].get("parts", 99) <= parts_bound(40 * MiB, layer[0]["resumed_from"],
                                                       5 * MiB) and
              images and images[0].get("status") == "pushed" and
              server.blob_sha(layer_digest) == layer_digest,
              "push: the tarball member resumed, the image put: %r %r" % (lines, r.stderr[-800:]))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-resume-")
    try:
        test_large(tmp)
        test_registry_ahead(tmp)
        test_edges(tmp)
        test_upload_gone(tmp)
        test_push(tmp)
        test_trials(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.finish("test_cli_resume")


if __name__ == "__main__":
    main()

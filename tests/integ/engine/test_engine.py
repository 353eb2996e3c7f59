#!/usr/bin/env python3
"""The upload engine end to end, through the public API only (engine_tool), against
`ecrup serve` on loopback: part-boundary sizes, a larger layer, many layers at once, server
part sizes, second runs, given and computed digests, --no-check, every fault kind alone and
mixed, empty/missing files, a missing repository, a file changed mid-upload, the memory
limit and cancellation. Every uploaded layer is read back from the server's store and its
SHA-256 compared with the file's."""
import functools
import hashlib
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common  # noqa: E402
from engine_common import BIN, MiB, REPO, check, file_digest  # noqa: E402,F401

ENV = engine_common.client_env("AKIDENGINETEST", "engine/test+secret")
Server = functools.partial(engine_common.Server, env=ENV)


_small_made = set()


def make(root, name, size):
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        left = size
        block = os.urandom(min(size, 1 << 20)) if size else b""
        # a file of a few bytes drawn at random may repeat one made before (1 in 256 for a
        # byte), and would then exist already: draw tiny files distinct within this run
        while 0 < size < 32 and block in _small_made:
            block = os.urandom(size)
        if size < 32:
            _small_made.add(block)
        while left > 0:
            n = min(left, len(block))
            # vary each block so repeated content cannot hide an offset bug
            f.write(hashlib.sha256(b"%d" % left).digest() + block[32:n] if n > 32 else block[:n])
            left -= n
    return path


def run(server, files, *opts, env=None, timeout=300, repo=REPO):
    return engine_common.run_tool(server, files, *opts, env=env or ENV, timeout=timeout,
                                  repo=repo)


def verify_uploaded(server, files, results, what, outcomes=("UPLOADED",)):
    check(len(results) == len(files), "%s: one result per layer" % what)
    for path, r in zip(files, results):
        want = file_digest(path)
        check(r["outcome"] in outcomes, "%s: %s outcome %s (%s %s)" %
              (what, os.path.basename(path), r["outcome"], r["exception"], r["message"]))
        check(r["digest"] == want, "%s: %s digest %s != %s" % (what, path, r["digest"], want))
        check(r["size"] == os.path.getsize(path), "%s: %s size" % (what, path))
        if r["outcome"] == "UPLOADED":
            check(server.blob_sha(want) == want, "%s: %s blob in the store is intact" % (what, path))
            check(r["status"] == 0 and r["exception"] is None and r["message"] is None,
                  "%s: %s success has no error" % (what, path))


def scenarios(root):
    P = 10 * MiB  # the server's default partSize
    sizes = {"one-byte": 1, "5m-1": 5 * MiB - 1, "5m": 5 * MiB, "5m+1": 5 * MiB + 1,
             "p-1": P - 1, "p": P, "p+1": P + 1, "3p+1": 3 * P + 1, "200m": 200 * MiB,
             # around the hash pass's 128 KiB reads (engine/hash_pass.c HASH_CHUNK)
             "h-1": 128 * 1024 - 1, "h": 128 * 1024, "h+1": 128 * 1024 + 1,
             "3h+5": 3 * 128 * 1024 + 5}
    files = [make(root, n, s) for n, s in sizes.items()]

    # --- sizes around every boundary, digests computed; then a second run finds them all
    srv = Server(root)
    try:
        res, summ, _ = run(srv, files)
        verify_uploaded(srv, files, res, "sizes")
        check(summ["status"] == 0, "sizes: run status OK")
        for path, r in zip(files, res):
            size = os.path.getsize(path)
            check(r["parts"] == (size + P - 1) // P, "sizes: %s parts %d" % (path, r["parts"]))
        check(summ["phases_seen"] & (1 << 3) and summ["phases_seen"] & (1 << 5) and
              summ["phases_seen"] & (1 << 1), "sizes: progress saw hashing, pushing and done")
        res, summ, _ = run(srv, files, "--check-first")
        check(all(r["outcome"] == "EXISTS" and r["parts"] == 0 for r in res),
              "second run, check first: every layer exists, no part sent")
        check(summ["status"] == 0, "second run: status OK")
        # by default the upload starts while the file is hashed and stops at the check
        res, summ, _ = run(srv, files)
        check(all(r["outcome"] == "EXISTS" and r["status"] == 0 for r in res),
              "third run, upload beside the check: every layer exists: %s" %
              [(r["outcome"], r["parts"]) for r in res])
        check(summ["status"] == 0, "third run: status OK")

        # --- digests given (right), and one given wrong: the engine refuses it before upload
        given = [make(root, "given-%d" % i, s) for i, s in enumerate((3 * MiB, 11 * MiB))]
        args = ["%s=%s" % (f, file_digest(f)) for f in given]
        res, summ, _ = run(srv, args)
        verify_uploaded(srv, given, res, "digest given")
        wrong = make(root, "wrong-digest", 2 * MiB)
        res, summ, _ = run(srv, [wrong + "=sha256:" + "0" * 64])
        check(res[0]["outcome"] == "FAILED" and res[0]["status"] == 18,
              "a wrong digest given fails as a digest mismatch: %s" % res[0])
        res, summ, _ = run(srv, [wrong + "=sha256:" + "0" * 64], "--no-check")
        check(res[0]["outcome"] == "FAILED" and res[0]["status"] == 18 and
              res[0]["exception"] == "InvalidLayerException",
              "a wrong digest given with --no-check is refused at completion: %s" % res[0])
        check(srv.blob_sha("sha256:" + "0" * 64) is None, "nothing stored under a wrong digest")

        # --- --no-check: digest computed during the upload (running hash), given or not
        nc = [make(root, "nocheck-%d" % i, s) for i, s in enumerate((1, 7 * MiB, 21 * MiB + 5))]
        res, summ, _ = run(srv, nc, "--no-check")
        verify_uploaded(srv, nc, res, "no-check")
        res, summ, _ = run(srv, nc[:1], "--no-check")
        check(res[0]["outcome"] == "UPLOADED", "no-check upload of a present layer succeeds")
        # the same through OpenSSL's SHA-256 (the path of CPUs without SHA-NI), checked and not
        ossl = [make(root, "openssl-%d" % i, s) for i, s in enumerate((13 * MiB + 7, 3 * MiB))]
        env = dict(ENV, ECRUP_SHA256="openssl")
        res, summ, _ = run(srv, ossl[:1], "--no-check", env=env)
        verify_uploaded(srv, ossl[:1], res, "no-check, OpenSSL SHA-256")
        res, summ, _ = run(srv, ossl, env=env)
        verify_uploaded(srv, ossl, res, "checked, OpenSSL SHA-256", outcomes=("UPLOADED", "EXISTS"))
        check([r["outcome"] for r in res] == ["EXISTS", "UPLOADED"],
              "OpenSSL SHA-256: the layer pushed before exists, the new one is uploaded")

        # --- many layers at once
        many = [make(root, "many-%02d" % i, (i * 7919 * 131) % (9 * MiB) + 1) for i in range(24)]
        res, summ, _ = run(srv, many)
        verify_uploaded(srv, many, res, "24 layers")

        # --- failures that must be clear
        empty = make(root, "empty", 0)
        missing = os.path.join(root, "does-not-exist")
        res, summ, _ = run(srv, [empty, missing, files[0]])
        check(res[0]["outcome"] == "FAILED" and res[0]["status"] == 20 and
              res[0]["exception"] == "EmptyLayer" and "empty" in res[0]["path"] and
              empty in res[0]["message"], "empty file: %s" % res[0])
        check(res[1]["outcome"] == "FAILED" and res[1]["status"] == 25 and
              missing in res[1]["message"], "missing file: %s" % res[1])
        check(res[2]["outcome"] == "EXISTS", "a good layer next to bad ones still ends well")
        check(summ["status"] == 20, "run status is the first failure's")
        res, summ, _ = run(srv, files[:2], repo="no-such-repo")
        check(all(r["outcome"] == "FAILED" and r["status"] == 25 and
                  r["exception"] == "RepositoryNotFoundException" for r in res),
              "missing repository: %s" % res)
        res, summ, _ = run(srv, files[:1], "--no-check", repo="no-such-repo")
        check(res[0]["status"] == 25 and "InitiateLayerUpload" in res[0]["message"],
              "missing repository, no check: %s" % res[0])

        # --- memory limit: 8 buffers of 5 MiB parts; the peak stays under limit + constant
        base_res, base, _ = run(srv, [missing])
        mem_files = [make(root, "mem-%d" % i, 20 * MiB + i) for i in range(4)]
        limit = 40 * MiB
        res, summ, _ = run(srv, mem_files, "--no-check", "--part-size", str(5 * MiB),
                           "--memory-limit", str(limit))
        verify_uploaded(srv, mem_files, res, "memory limit")
        check([r["parts"] for r in res] == [4, 5, 5, 5],
              "--part-size 5 MiB: 20 MiB in 4 parts, one byte more in 5: %s" %
              [r["parts"] for r in res])
        peak = summ["maxrss_kb"] * 1024
        # sanitizers shadow the part buffers too: AddressSanitizer one byte per eight, with its
        # redzones and quarantine about the buffers again; ThreadSanitizer's shadow and meta
        # are several times the memory they watch
        cache = open(os.path.join(BIN, "CMakeCache.txt")).read()
        m = re.search(r"^ECRUP_SANITIZE:STRING=(.*)$", cache, re.M)
        sanitize = m.group(1) if m else ""
        shadow = 4 if "thread" in sanitize else 2 if sanitize else 1
        allowed = base["maxrss_kb"] * 1024 + limit * shadow + 48 * MiB
        print("memory: limit %d MiB, baseline %d MiB, peak %d MiB" %
              (limit // MiB, base["maxrss_kb"] // 1024, peak // MiB))
        check(peak <= allowed, "peak RSS %d MiB over limit + constant (%d MiB)" %
              (peak // MiB, allowed // MiB))
        # one layer never holds more than 6 buffers (4 live parts and 2 abandoned ones), so
        # a generous limit is not all taken: 6 slots of 5 MiB + ~6.7 MiB, not the 21 that
        # 256 MiB holds (the io_uring backend pins, so makes resident, every slot it gets)
        one = make(root, "mem-one", 30 * MiB + 3)
        res, summ, _ = run(srv, [one], "--no-check", "--part-size", str(5 * MiB),
                           "--memory-limit", str(256 * MiB))
        verify_uploaded(srv, [one], res, "one layer, large limit")
        peak = summ["maxrss_kb"] * 1024
        allowed = base["maxrss_kb"] * 1024 + 6 * 12 * MiB * shadow + 48 * MiB
        print("one layer, 256 MiB limit: peak %d MiB (allowed %d MiB)" %
              (peak // MiB, allowed // MiB))
        check(peak <= allowed, "one layer, 256 MiB limit: peak RSS %d MiB over 6 buffers + "
              "constant (%d MiB)" % (peak // MiB, allowed // MiB))
        res, summ, _ = run(srv, mem_files[:1], "--no-check", "--part-size", str(5 * MiB),
                           "--memory-limit", str(8 * MiB))
        check(res[0]["outcome"] == "FAILED" and res[0]["status"] == 1 and
              "memory limit" in res[0]["message"], "a memory limit too small fails: %s" % res[0])
    finally:
        srv.stop()

    # --- the server's partSize is honoured: 5 MiB and 20 MiB
    for ps in (5, 20):
        srv = Server(root, "--part-size", "%dM" % ps)
        try:
            pf = [make(root, "ps%d-%d" % (ps, i), s) for i, s in
                  enumerate((ps * MiB - 1, ps * MiB + 1, 2 * ps * MiB + 3))]
            res, summ, _ = run(srv, pf)
            verify_uploaded(srv, pf, res, "partSize %d MiB" % ps)
            for path, r in zip(pf, res):
                want = (os.path.getsize(path) + ps * MiB - 1) // (ps * MiB)
                check(r["parts"] == want, "partSize %d MiB: %s parts %d != %d" %
                      (ps, path, r["parts"], want))
        finally:
            srv.stop()

    # --- faults: each kind alone on every operation, then all mixed (with and without check)
    fenv = dict(ENV, AWS_MAX_ATTEMPTS="12")
    resumes = all_retries = 0
    kinds = [("throttle", "*:throttle=0.15"), ("500", "*:500=0.15"), ("503", "*:503=0.15"),
             ("reset", "*:reset=0.15"),
             ("lost", "UploadLayerPart:lost=0.4,InitiateLayerUpload:lost=0.2,"
                      "CompleteLayerUpload:lost=0.3,BatchCheckLayerAvailability:lost=0.2"),
             ("mixed", "*:throttle=0.05:500=0.05:503=0.05:reset=0.05:lost=0.08")]
    for i, (name, spec) in enumerate(kinds):
        srv = Server(root, "--faults", "seed=%d,%s" % (11 + i, spec))
        try:
            ff = [make(root, "fault-%s-%d" % (name, j), s) for j, s in
                  enumerate((1, 6 * MiB + 1, 23 * MiB + 7))]
            res, summ, p = run(srv, ff, env=fenv)
            retried = sum(r["retries"] for r in res)
            verify_uploaded(srv, ff, res, "faults %s" % name)
            check(summ["status"] == 0, "faults %s: status OK" % name)
            nc_sizes = (4 * MiB, 31 * MiB + 1) + ((50 * MiB - 1,) if name == "lost" else ())
            nc = [make(root, "fault-nc-%s-%d" % (name, j), s) for j, s in enumerate(nc_sizes)]
            res, summ, p = run(srv, nc, "--no-check", env=fenv)
            verify_uploaded(srv, nc, res, "faults %s, no check" % name)
            check(all(r["attempts"] >= r["parts"] + 2 for r in res),
                  "faults %s: attempts counted" % name)
            check(all(r["attempts"] == r["requests"] + r["retries"] and
                      r["requests"] >= r["parts"] + 2 for r in res),  # no check: no BatchCheck
                  "faults %s: attempts are requests and retries (%r)"
                  % (name, [(r["requests"], r["retries"], r["attempts"]) for r in res]))
            all_retries += retried + sum(r["retries"] for r in res)
            if name == "lost":
                resumes += summ["resumes"]
        finally:
            srv.stop()

    check(resumes > 0, "lost part replies were resumed from lastValidByteReceived")
    check(all_retries > 0, "faults: the retried sends are counted as retries (%d)" % all_retries)

    # --- the upload beside the check: checks are throttled (retried with backoff), so parts go
    # out before the answer; a present layer stops as existing, an absent one completes
    srv = Server(root, "--faults", "seed=5,delay=30,BatchCheckLayerAvailability:throttle=0.6")
    try:
        present = make(root, "beside-present", 42 * MiB + 1)
        absent = make(root, "beside-absent", 33 * MiB)
        res, summ, _ = run(srv, [present], "--check-first", env=fenv)
        verify_uploaded(srv, [present], res, "beside: first push")
        res, summ, _ = run(srv, [present, absent], env=fenv)
        verify_uploaded(srv, [present, absent], res, "beside", outcomes=("UPLOADED", "EXISTS"))
        check([r["outcome"] for r in res] == ["EXISTS", "UPLOADED"],
              "beside the check: the present layer exists, the absent one is uploaded: %s" %
              [(r["outcome"], r["parts"]) for r in res])
        check(summ["status"] == 0, "beside the check: status OK")
    finally:
        srv.stop()

    # --- the server restarts without its uploads: UploadNotFoundException during parts starts
    # the layer over; with --no-check the running hash cannot follow, so the digest is
    # recomputed by a separate pass before CompleteLayerUpload
    srv = Server(root, "--faults", "delay=200")
    port = srv.url.rsplit(":", 1)[1]
    try:
        path = make(root, "restart", 45 * MiB + 3)
        holder = {}

        def go_restart():
            holder["r"] = run(srv, [path], "--no-check", env=fenv)
        t = threading.Thread(target=go_restart)
        t.start()
        # not a fixed sleep: a slow start (loaded machine, sanitizers) would stop the server
        # before the upload began
        check(srv.wait_part_acked(), "server restart: a part was acknowledged")
        srv.stop()
        srv2 = Server(root, listen="127.0.0.1:" + port)
        t.join(180)
        res, summ, _ = holder["r"]
        verify_uploaded(srv2, [path], res, "server restart")
        check(summ["restarts"] >= 1 and summ["rehashes"] >= 1,
              "server restart: the layer started over and was hashed again: %s" % summ)
        # every reply waits 200 ms after its part is in: the 100 ms ticks see it on the wire
        check(summ["sent_ahead"] > 0,
              "server restart: progress counted parts on the wire before their reply: %s" % summ)
        srv2.stop()
    finally:
        if srv.proc.poll() is None:
            srv.stop()

    # --- a file changed mid-upload (append, then truncate) fails FileChanged
    for how in ("append", "truncate"):
        srv = Server(root, "--faults", "delay=250")
        try:
            path = make(root, "changing-" + how, 40 * MiB)
            holder = {}

            def go():
                holder["r"] = run(srv, [path], "--no-check")
            t = threading.Thread(target=go)
            t.start()
            # after admission (a change before it is just another file): once a part is in
            check(srv.wait_part_acked(), "file changed (%s): a part was acknowledged" % how)
            if how == "append":
                with open(path, "ab") as f:
                    f.write(b"more")
            else:
                os.truncate(path, 15 * MiB)
            t.join(120)
            res, summ, _ = holder["r"]
            engine_common.check_file_changed(res[0], path, "file changed (%s) mid-upload" % how)
        finally:
            srv.stop()

    # --- cancellation from another thread once the first part is acknowledged
    srv = Server(root, "--faults", "delay=150")
    try:
        cf = [make(root, "cancel-%d" % i, 30 * MiB + i) for i in range(4)]
        res, summ, _ = run(srv, cf, "--no-check", "--cancel-after-bytes", "1")
        cancelled = [r for r in res if r["outcome"] == "FAILED"]
        check(len(cancelled) >= 1, "cancel: some layers were cut short")
        check(all(r["status"] == 21 and r["exception"] == "Cancelled" for r in cancelled),
              "cancel: unfinished layers end Cancelled: %s" % cancelled)
        check(all(r["outcome"] in ("UPLOADED", "FAILED") for r in res), "cancel: none pending")
        check(summ["status"] == 21, "cancel: run status is Cancelled")
        for path, r in zip(cf, res):
            if r["outcome"] == "UPLOADED":
                check(srv.blob_sha(file_digest(path)) == file_digest(path),
                      "cancel: a layer that finished is intact")
    finally:
        srv.stop()


if __name__ == "__main__":
    engine_common.main_in_tmpdir("ecrup-engine-test-", scenarios)

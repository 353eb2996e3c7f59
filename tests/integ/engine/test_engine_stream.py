#!/usr/bin/env python3
"""Stream layers (ecrup_layer.read: bytes from a callback, forward only, size unknown until the
end; engine_tool's stream:FILE, read in pieces of random size) and runs of one engine again
(engine_tool --run-each), through the public API against `ecrup serve` on loopback:

- sizes around the part boundaries (1 byte, a part less one, exactly one and two parts, a part
  and one byte, 23 MiB and some), digests computed, read in pieces of up to 64 KiB and of
  1 byte to 7 bytes; every result's digest, size and part count, the bytes handed over, and the
  blob the server stored read back;
- a stream and files in one run, and the same layers run one per engine run (results of the
  earlier runs still there at the end);
- a given digest: checked first, present -> EXISTS with nothing read; absent -> uploaded; a
  wrong one -> DigestMismatch before CompleteLayerUpload (the server never has the layer);
- no digest and present: uploaded, then EXISTS from CompleteLayerUpload;
- faults on every operation (throttles, 5xx, resets, lost replies): every part kept until
  acknowledged, so the stream still arrives whole;
- an upload the registry loses mid-stream (UploadNotFoundException on a part) cannot start
  over: StreamRewind, naming the layer;
- an empty stream, a stream whose read fails (IOError, with the byte count), --no-check."""
import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common  # noqa: E402
from engine_common import MiB, check  # noqa: E402

ENV = engine_common.client_env("AKIDSTREAMTEST", "stream/test+secret")
Server = functools.partial(engine_common.Server, env=ENV)
PS = 5 * MiB


make = engine_common.make_blocks


def run(server, layers, *opts, env=ENV, timeout=300):
    return engine_common.run_tool(server, layers, *opts, env=env, timeout=timeout)


def verify(server, paths, results, what, outcomes=("UPLOADED",), stream=True, faults=False):
    check(len(results) == len(paths), "%s: one result per layer (%d, %d)" %
          (what, len(results), len(paths)))
    for path, r in zip(paths, results):
        want = engine_common.file_digest(path)
        size = os.path.getsize(path)
        name = os.path.basename(path)
        check(r["outcome"] in outcomes, "%s: %s outcome %s (%s %s)" %
              (what, name, r["outcome"], r["exception"], r["message"]))
        check(r["digest"] == want, "%s: %s digest %s != %s" % (what, name, r["digest"], want))
        check(r["size"] == size, "%s: %s size %s != %d" % (what, name, r["size"], size))
        if stream:
            check(r["path"] == "stream:" + path, "%s: %s result path %s" % (what, name, r["path"]))
            check(r.get("read") == size, "%s: %s: the callback handed over %s of %d bytes" %
                  (what, name, r.get("read"), size))
        if r["outcome"] == "UPLOADED" and not faults:  # a lost reply's part is not counted
            check(r["parts"] >= (size + PS - 1) // PS, "%s: %s in %d parts" %
                  (what, name, r["parts"]))
            check(server.blob_sha(want) == want, "%s: %s: the stored blob is the stream" %
                  (what, name))


def scenarios(root):
    sizes = (1, PS - 1, PS, PS + 1, 2 * PS, 23 * MiB + 7)
    files = [make(root, "s%d" % i, n) for i, n in enumerate(sizes)]
    streams = ["stream:" + p for p in files]

    # --- sizes around the part boundaries, in pieces of up to 64 KiB, then of 1 to 7 bytes
    for chunk in ("65536", "7"):
        srv = Server(root)
        try:
            picked = files if chunk == "65536" else files[:3]
            res, summ, p = run(srv, ["stream:" + f for f in picked], "--part-size", str(PS),
                               "--stream-chunk", chunk, "--verbose")
            what = "streams read %s bytes at most" % chunk
            verify(srv, picked, res, what)
            for f, r in zip(picked, res):
                n = os.path.getsize(f)
                check(r["parts"] == (n + PS - 1) // PS, "%s: %d bytes in %d parts" %
                      (what, n, r["parts"]))
            check(summ["status"] == 0, "%s: status OK" % what)
            check("the stream ended at %d bytes" % sizes[-1] in p.stderr or chunk == "7",
                  "%s: the end of the stream is logged with its size" % what)
        finally:
            srv.stop()

    # --- streams and files in one run; then one layer per run of one engine
    srv = Server(root)
    try:
        mixed = [make(root, "f%d" % i, n) for i, n in enumerate((3 * MiB, 12 * MiB + 5))]
        res, summ, _ = run(srv, [streams[3], mixed[0], streams[5], mixed[1]],
                           "--part-size", str(PS))
        verify(srv, [files[3], files[5]], [res[0], res[2]], "streams beside files")
        verify(srv, mixed, [res[1], res[3]], "files beside streams", stream=False)
        again = [make(root, "g%d" % i, n) for i, n in enumerate((PS + 3, 2 * MiB, 9 * MiB))]
        res, summ, _ = run(srv, ["stream:" + again[0], again[1], "stream:" + again[2],
                                 streams[3]], "--part-size", str(PS), "--run-each")
        verify(srv, [again[0], again[2]], [res[0], res[2]], "one run each")
        verify(srv, [again[1]], [res[1]], "one run each, the file", stream=False)
        # the fourth was uploaded before: no digest given, so it is sent, the registry says
        # LayerAlreadyExists at CompleteLayerUpload and BatchCheckLayerAvailability confirms
        verify(srv, [files[3]], [res[3]], "one run each, present without a digest")
        check(res[3]["requests"] == 2 + res[3]["parts"] + 1,
              "present without a digest: Initiate, the parts, Complete and the confirming "
              "check (%d requests, %d parts)" % (res[3]["requests"], res[3]["parts"]))
        check(summ["status"] == 0, "one run each: status OK: %s" % summ)
    finally:
        srv.stop()

    # --- digests given: present -> nothing read; absent -> uploaded; wrong -> refused
    srv = Server(root)
    try:
        res, _, _ = run(srv, [streams[5]], "--part-size", str(PS))
        verify(srv, [files[5]], res, "first upload")
        d5 = engine_common.file_digest(files[5])
        fresh = make(root, "fresh", 8 * MiB + 3)
        dfresh = engine_common.file_digest(fresh)
        wrong = make(root, "wrong", 6 * MiB)
        dwrong = "sha256:" + "ab" * 32
        res, summ, _ = run(srv, [streams[5] + "=" + d5, "stream:" + fresh + "=" + dfresh,
                                 "stream:" + wrong + "=" + dwrong], "--part-size", str(PS))
        r = res[0]
        check(r["outcome"] == "EXISTS" and r["read"] == 0 and r["parts"] == 0 and
              r["digest"] == d5, "a present stream with its digest: EXISTS, nothing read: %s" % r)
        verify(srv, [fresh], res[1:2], "an absent stream with its digest")
        r = res[2]
        check(r["outcome"] == "FAILED" and r["exception"] == "DigestMismatch" and
              dwrong in r["message"] and engine_common.file_digest(wrong) in r["message"],
              "a stream whose bytes are not the digest given fails DigestMismatch: %s" % r)
        check(srv.blob_sha(engine_common.file_digest(wrong)) is None,
              "the mismatched stream was not completed: the store has no such blob")
        check(summ["status"] == 18, "run status: the mismatch (%s)" % summ["status"])
        res, _, _ = run(srv, ["stream:" + wrong], "--no-check", "--part-size", str(PS))
        verify(srv, [wrong], res, "--no-check")
    finally:
        srv.stop()

    # --- faults: every part kept until acknowledged, so retries and lost replies recover
    fenv = dict(ENV, AWS_MAX_ATTEMPTS="12")
    resumes = retries = 0
    for i, (name, spec) in enumerate((
            ("throttle, 5xx, reset", "*:throttle=0.1:500=0.1:503=0.05:reset=0.1"),
            ("lost", "UploadLayerPart:lost=0.4,InitiateLayerUpload:lost=0.2,"
                     "CompleteLayerUpload:lost=0.3"))):
        srv = Server(root, "--faults", "seed=%d,%s" % (31 + i, spec))
        try:
            ff = [make(root, "fault%d-%d" % (i, j), n) for j, n in
                  enumerate((1, 6 * MiB + 1, 23 * MiB + 7, 31 * MiB))]
            res, summ, _ = run(srv, ["stream:" + f for f in ff], "--part-size", str(PS),
                               env=fenv)
            verify(srv, ff, res, "faults %s" % name, faults=True)
            check(summ["status"] == 0, "faults %s: status OK" % name)
            resumes += summ["resumes"]
            retries += sum(r["retries"] for r in res)
        finally:
            srv.stop()
    check(retries > 0, "faults: retried sends happened (%d)" % retries)
    check(resumes > 0, "a lost part reply was resumed from the registry's byte (%d)" % resumes)

    # --- the registry loses the upload mid-stream: it cannot start over
    srv = Server(root, "--upload-expiry", "1", "--faults", "delay=1500")
    try:
        f = make(root, "lost-upload", 30 * MiB)
        res, summ, _ = run(srv, ["stream:" + f], "--part-size", str(PS), env=fenv)
        r = res[0]
        check(r["outcome"] == "FAILED" and r["exception"] == "StreamRewind" and
              r["status"] == 27 and ("stream:" + f) in r["message"] and
              "push it again" in r["message"],
              "an upload lost mid-stream fails StreamRewind, naming the layer: %s" % r)
    finally:
        srv.stop()

    # --- an empty stream; a stream whose read fails
    srv = Server(root)
    try:
        empty = make(root, "empty", 0)
        res, summ, _ = run(srv, ["stream:" + empty, streams[4]], "--part-size", str(PS),
                           "--stream-fail-at", str(PS + 12345))
        r = res[0]
        check(r["outcome"] == "FAILED" and r["exception"] == "EmptyLayer" and
              "stream:" + empty in r["message"], "an empty stream fails EmptyLayer: %s" % r)
        r = res[1]
        check(r["outcome"] == "FAILED" and r["exception"] == "IOError" and
              "after %d bytes" % (PS + 12345) in r["message"] and
              "Input/output error" in r["message"],
              "a failing read fails the layer IOError with the bytes read: %s" % r)
        check(srv.blob_sha(engine_common.file_digest(files[4])) is None,
              "the failed stream was not completed")
    finally:
        srv.stop()


if __name__ == "__main__":
    engine_common.main_in_tmpdir("ecrup-stream-", scenarios)

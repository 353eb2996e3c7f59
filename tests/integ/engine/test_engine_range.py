#!/usr/bin/env python3
"""Layers that are byte ranges of one file (ecrup_layer.offset and .length; engine_tool's
FILE@OFFSET+LENGTH), as `docker save` tarballs hold their blobs, through the public API
against `ecrup serve` on loopback:

- ranges at offsets 0, 1, 512, 4096+512, 12345 and near the end, lengths crossing 5 MiB part
  boundaries (--part-size 5 MiB), one byte, and one to the end of the file (length 0);
- digests computed and given, with the check and with --no-check;
- on the pread and io_uring backends (ECRUP_IO_BACKEND), each with O_DIRECT forced on
  (ECRUP_IO_DIRECT=on), and in the default mode on a file whose pages were dropped (so the
  automatic choice reads it with O_DIRECT where the file system allows);
- every result is checked against the SHA-256 of the range (the digest, the size, the path)
  and the blob the server stored is read back and hashed;
- a range past the end of the file, an offset overflow and an empty range fail clearly, next
  to a good range that still uploads;
- the file rewritten inside the range (its mtime put back with utime, or not), or appended to
  outside it, during the upload fails the layer as FileChanged."""
import functools
import hashlib
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common  # noqa: E402
from engine_common import MiB, check  # noqa: E402

ENV = engine_common.client_env("AKIDRANGETEST", "range/test+secret")
Server = functools.partial(engine_common.Server, env=ENV)
PS = 5 * MiB  # the engine's part size in every run here


make = engine_common.make_blocks


def range_digest(path, off, length):
    with open(path, "rb") as f:
        f.seek(off)
        data = f.read(length) if length else f.read()
    return "sha256:" + hashlib.sha256(data).hexdigest(), len(data)


def run(server, layers, *opts, env=ENV, timeout=300):
    return engine_common.run_tool(server, layers, *opts, env=env, timeout=timeout)


def arg(path, off, length, digest=None):
    return "%s@%d+%d%s" % (path, off, length, "=" + digest if digest else "")


def verify(server, ranges, results, what, outcomes=("UPLOADED",)):
    check(len(results) == len(ranges), "%s: one result per range" % what)
    for (path, off, length), r in zip(ranges, results):
        want, size = range_digest(path, off, length)
        name = "%s@%d+%d" % (os.path.basename(path), off, length)
        check(r["outcome"] in outcomes, "%s: %s outcome %s (%s %s)" %
              (what, name, r["outcome"], r["exception"], r["message"]))
        check(r["digest"] == want, "%s: %s digest %s != %s" % (what, name, r["digest"], want))
        check(r["size"] == size, "%s: %s size %s != %d" % (what, name, r["size"], size))
        check(r["path"] == path, "%s: %s result path %s" % (what, name, r["path"]))
        if r["outcome"] == "UPLOADED":
            check(server.blob_sha(want) == want, "%s: %s blob in the store is the range" %
                  (what, name))


def drop_pages(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def scenarios(root):
    size = 24 * MiB + 4321
    tar = make(root, "image.tar", size)
    ranges = [(tar, 0, 7 * MiB + 3),          # from the start, over a part boundary
              (tar, 512, 11 * MiB + 100),     # a tar member's alignment, three parts
              (tar, 4096 + 512, PS),          # exactly one part
              (tar, 1, PS + 1),               # an odd offset, one byte into a second part
              (tar, 12345, 3 * MiB + 777),    # within one part
              (tar, 12345 + 17, 1),           # one byte
              (tar, size - 9 * MiB - 5, 0)]   # to the end of the file: two parts
    # halves: digests given for one, computed for the other, swapped between the runs
    first = [i for i in range(len(ranges)) if i % 2 == 0]

    def args(given):
        out = []
        for i, (p, off, length) in enumerate(ranges):
            out.append(arg(p, off, length, range_digest(p, off, length)[0] if i in given
                           else None))
        return out

    modes = [("pread", {"ECRUP_IO_BACKEND": "pread"}),
             ("pread, O_DIRECT on", {"ECRUP_IO_BACKEND": "pread", "ECRUP_IO_DIRECT": "on"}),
             ("io_uring", {"ECRUP_IO_BACKEND": "uring"}),
             ("io_uring, O_DIRECT on", {"ECRUP_IO_BACKEND": "uring", "ECRUP_IO_DIRECT": "on"}),
             ("default, cold file", {})]
    uring_ok = None
    for name, extra in modes:
        env = dict(ENV, **extra)
        if extra.get("ECRUP_IO_BACKEND") == "uring" and uring_ok is False:
            print("note: io_uring cannot be set up here: %s skipped" % name)
            continue
        for check_opt, given in (((), set(first)),
                                 (("--no-check",), set(range(len(ranges))) - set(first))):
            what = "%s%s" % (name, ", no check" if check_opt else "")
            srv = Server(root)
            try:
                if not extra:
                    drop_pages(tar)
                res, summ, p = run(srv, args(given), "--part-size", str(PS), "--verbose",
                                   *check_opt, env=env)
                if extra.get("ECRUP_IO_BACKEND") == "uring" and uring_ok is None:
                    uring_ok = "io backend: io_uring" in p.stderr
                    if not uring_ok:
                        print("note: io_uring cannot be set up here: %s skipped (%s)" %
                              (name, [l for l in p.stderr.splitlines() if "io backend" in l]))
                        break
                backend = [l for l in p.stderr.splitlines() if "io backend" in l]
                print("%s: %s" % (what, backend[0].split("] ", 1)[-1] if backend else "?"))
                want_backend = {"pread": "io backend: pread",
                                "uring": "io backend: io_uring"}.get(extra.get("ECRUP_IO_BACKEND"))
                if want_backend:
                    check(any(want_backend in l for l in backend),
                          "%s: the backend asked for runs: %s" % (what, backend))
                verify(srv, ranges, res, what)
                check(summ["status"] == 0, "%s: status OK" % what)
                for (_, off, length), r in zip(ranges, res):
                    n = length or size - off
                    check(r["parts"] == (n + PS - 1) // PS, "%s: @%d+%d in %d parts" %
                          (what, off, length, r["parts"]))
                if not check_opt and name == "pread":
                    # present now: found by the check, from the ranges' digests alone
                    res, summ, _ = run(srv, args(set()), "--check-first", env=env)
                    verify(srv, ranges, res, what + ", second run", outcomes=("EXISTS",))
            finally:
                srv.stop()

    # --- ranges that cannot be uploaded, next to one that can
    srv = Server(root)
    try:
        bad = [arg(tar, size - 10, 11),           # one byte past the end
               arg(tar, size + 1, 0),             # starts past the end, to the end
               arg(tar, (1 << 64) - 2, 5),        # the end overflows
               arg(tar, size, 0),                 # empty: at the end, to the end
               arg(tar, 777, 4 * MiB)]            # fine
        res, summ, _ = run(srv, bad, "--part-size", str(PS))
        check(len(res) == 5, "bad ranges: one result each")
        for r, off, length in ((res[0], size - 10, 11), (res[1], size + 1, 0),
                               (res[2], (1 << 64) - 2, 5)):
            check(r["outcome"] == "FAILED" and r["status"] == 26 and  # ECRUP_E_INVALID_RANGE
                  r["exception"] == "InvalidRange" and r["path"] == tar and
                  tar in (r["message"] or "") and "offset %d" % off in r["message"] and
                  (not length or "%d bytes" % length in r["message"]),
                  "range @%d+%d fails as InvalidRange naming the file and range: %s" %
                  (off, length, r))
        check("%d-byte file" % size in res[0]["message"], "past the end: the file's size is "
              "given: %s" % res[0]["message"])
        check(res[3]["outcome"] == "FAILED" and res[3]["status"] == 20 and
              res[3]["exception"] == "EmptyLayer" and tar in res[3]["message"] and
              "empty" in res[3]["message"], "an empty range fails as EmptyLayer: %s" % res[3])
        verify(srv, [(tar, 777, 4 * MiB)], res[4:], "good range next to bad ones")
        check(summ["status"] == 26, "bad ranges: run status is the first failure's: %s" % summ)
    finally:
        srv.stop()

    # --- the file changes during the upload of a range: inside the range (rewritten in
    # place, same size) and outside it (appended); both fail FileChanged, checked or not
    for how, opts in (("rewritten inside the range", ("--no-check",)),
                      ("rewritten inside the range, mtime put back", ("--no-check",)),
                      ("appended outside the range", ())):
        srv = Server(root, "--faults", "delay=250")
        try:
            path = make(root, "changing.tar", 40 * MiB)
            off, length = MiB + 512, 30 * MiB
            holder = {}

            def go():
                holder["r"] = run(srv, [arg(path, off, length)], "--part-size", str(PS), *opts)
            t = threading.Thread(target=go)
            t.start()
            check(srv.wait_part_acked(), "file %s: a part was acknowledged" % how)
            if how.startswith("rewritten"):
                before = os.stat(path)
                with open(path, "r+b") as f:
                    f.seek(off + 20 * MiB)
                    f.write(os.urandom(4096))
                if "mtime put back" in how:
                    # Size and mtime as they were: only the ctime, which no call sets, tells.
                    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
                    after = os.stat(path)
                    check(after.st_mtime_ns == before.st_mtime_ns and
                          after.st_ctime_ns != before.st_ctime_ns,
                          "file %s: mtime restored, ctime moved" % how)
            else:
                with open(path, "ab") as f:
                    f.write(b"more")
            t.join(180)
            res, summ, _ = holder["r"]
            engine_common.check_file_changed(res[0], path, "file %s mid-upload" % how)
        finally:
            srv.stop()


if __name__ == "__main__":
    engine_common.main_in_tmpdir("ecrup-range-test-", scenarios)

"""What the Python script tests share, the counterpart of test.h: a tally of checks whose
failures print at once, the closing line with the exit status, and a file's digest.

A script finds this module through its own path (tests/<kind>/<area>/script.py):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "support"))
so it runs the same under ctest and by hand. The tally is per process; check() may be called
from several threads (concurrent uploads check from their workers)."""
import hashlib
import os
import sys
import threading

failures = []  # what each failed check said, in order
_tally = {"checks": 0}
_lock = threading.Lock()


def check(cond, what):
    """Count one check; when `cond` is false print "FAIL: what" and remember it. Returns
    bool(cond), so a caller can skip what depends on it."""
    ok = bool(cond)
    with _lock:
        _tally["checks"] += 1
        if not ok:
            failures.append(what)
    if not ok:
        print("FAIL:", what, flush=True)
    return ok


def finish(name=None):
    """Print "<name>: N passed, M failed" and return the exit status: 1 on any failed check,
    else 0. `name` defaults to the script's file name without .py."""
    if name is None:
        name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    with _lock:
        total, failed = _tally["checks"], len(failures)
    print("%s: %d passed, %d failed" % (name, total - failed, failed), flush=True)
    return 1 if failed else 0


def file_digest(path):
    """"sha256:<hex>" of the file's bytes, read 1 MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()

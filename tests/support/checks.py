"""What the Python script tests share, the counterpart of test.h: a tally of checks whose
failures print at once, the closing line with the exit status, a file's digest, the checked
stop of a server the test started, and botocore's SigV4 signature for a received request.

A script finds this module through its own path (tests/<kind>/<area>/script.py):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "support"))
so it runs the same under ctest and by hand. The tally is per process; check() may be called
from several threads (concurrent uploads check from their workers)."""
import hashlib
import os
import signal
import subprocess
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


def stop_checked(proc, timeout=30):
    """Stop a server process the test started: SIGTERM, SIGKILL after `timeout` s, and check
    that it exited 0 (a clean shutdown on SIGTERM). Closes the pipes the test opened."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    check(rc == 0, "server exits 0 on SIGTERM (got %s)" % rc)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


def botocore_signature(headers, body, akid, secret, region, token=None):
    """The SigV4 signature botocore (the independent oracle) computes for an ECR POST as a
    loopback server received it: `headers` are the received ones (Host, Content-Type,
    X-Amz-Target, X-Amz-Date), `body` its bytes. botocore is imported here so that scripts
    without it can still use the rest of this module."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url="http://%s/" % headers["Host"], data=body,
                     headers={"Content-Type": headers["Content-Type"],
                              "X-Amz-Target": headers["X-Amz-Target"]})
    req.context["timestamp"] = headers["X-Amz-Date"]
    auth = SigV4Auth(Credentials(akid, secret, token), "ecr", region)
    auth._modify_request_before_signing(req)
    return auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)

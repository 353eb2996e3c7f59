#!/usr/bin/env python3
"""`ecrup serve --quotas`: ECR's request quotas as token buckets, and the clients against them.

  1. --quotas FILE refused with the file and line named (unknown operation, bad rate, twice);
  2. boto3 as a user writes it (default retries), 60 PutImage calls from a thread pool against
     --quotas ecr (10/s, burst 10): throttled, and every ThrottlingException the server
     answered is one boto3 counted (a retry, or the error it raised); against --quotas off none;
  3. ecrup pushing 600 small layers against --quotas ecr: every layer uploaded, its pacing
     keeps throttles to a few per hundred requests;
  4. ecrup against a FILE with quotas raised fivefold: its pacing grows past the default, the
     server's busiest second of InitiateLayerUpload over the 200 (100/s and a burst of 100)
     that the default quota can ever admit in one second;
  5. an InitiateLayerUpload and a CompleteLayerUpload throttled on all three attempts
     (--faults) are sent again at the paced rate and the layer is uploaded; one throttled
     every time fails after five such rounds, ThrottlingException named.
Counts come from the summary the server writes at exit. Nothing leaves 127.0.0.1.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.exceptions

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402
from test_server import AKID, BIN, SECRET, digest, manifest_for, upload  # noqa: E402

REGION = "us-east-1"


def server_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID=AKID,
               AWS_SECRET_ACCESS_KEY=SECRET)
    return env


class Quoted:
    """`ecrup serve --quotas SPEC` on a free port; stop() returns what each quota saw."""

    def __init__(self, spec, *args):
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--quotas", spec,
                                      *args], env=server_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError("server did not start: %r %s" % (line, self.proc.stderr.read()))
        self.url = line.split()[-1]

    def stop(self):
        """SIGTERM, exit 0 checked; {operation: (admitted, throttled, busiest second)}."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        check(self.proc.returncode == 0, "server exits 0 (%s): %s" % (self.proc.returncode, err))
        seen = {}
        for m in re.finditer(r"^(\w+): (\d+) admitted, (\d+) throttled, busiest second (\d+)", err,
                             re.M):
            seen[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
        return seen


def test_refusals(tmp):
    cases = [
        ("nosuch", None, "nosuch"),
        ("unknown-op", "UploadLayerPart 500\nPushEverything 10\n", "line 2"),
        ("zero-rate", "# comment\n\nPutImage 0\n", "line 3"),
        ("bad-burst", "PutImage 10 0.5\n", "line 1"),
        ("twice", "PutImage 10\nPutImage 20\n", "line 2"),
        ("extra", "PutImage 10 10 10\n", "line 1"),
    ]
    for name, text, needle in cases:
        path = os.path.join(tmp, name)
        if text is not None:
            with open(path, "w") as f:
                f.write(text)
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--quotas", path],
                           env=server_env(), capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and path in r.stderr and needle in r.stderr,
              "--quotas %s: exit 2 naming the file and %r (%d %r)"
              % (name, needle, r.returncode, r.stderr))
    r = subprocess.run([BIN, "serve", "--quotas"], env=server_env(), capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 2 and "--quotas" in r.stderr, "--quotas without a value: usage error")


def boto3_puts(spec):
    """Push one image, then put it under 60 tags from a thread pool with boto3's default
    retries. Returns (throttles boto3 counted, ThrottlingExceptions it raised, server's view)."""
    srv = Quoted(spec, "--repository", "quota/app")
    try:
        c = boto3.client("ecr", endpoint_url=srv.url, region_name=REGION,
                         aws_access_key_id=AKID, aws_secret_access_key=SECRET)
        layer, config = os.urandom(4096), b'{"os":"linux"}'
        upload(c, "quota/app", layer)
        upload(c, "quota/app", config)
        m = manifest_for(digest(config), len(config), [(digest(layer), len(layer))])

        def put(i):
            try:
                r = c.put_image(repositoryName="quota/app", imageManifest=m, imageTag="t%d" % i)
                return r["ResponseMetadata"]["RetryAttempts"], 0
            except botocore.exceptions.ClientError as e:
                if e.response["Error"]["Code"] != "ThrottlingException":
                    raise
                # Out of attempts: each of them was throttled.
                return e.response["ResponseMetadata"]["RetryAttempts"] + 1, 1

        with ThreadPoolExecutor(8) as pool:
            res = list(pool.map(put, range(60)))
    finally:
        seen = srv.stop()
    return sum(r[0] for r in res), sum(r[1] for r in res), seen


def test_boto3():
    counted, raised, seen = boto3_puts("ecr")
    print("boto3 against --quotas ecr: %d throttles counted, %d raised, server saw %r"
          % (counted, raised, seen), flush=True)
    admitted, throttled, busiest = seen.get("PutImage", (0, 0, 0))
    check(throttled > 0, "boto3's burst of PutImage is throttled at 10/s (%r)" % (seen,))
    check(counted == throttled,
          "boto3 counted every throttle the server answered: %d retried or raised, server %d"
          % (counted, throttled))
    check(admitted == 60 - raised, "every PutImage not raised was admitted (%d, %d raised)"
          % (admitted, raised))
    check(busiest <= 20, "no second admitted more than the rate and its burst (%d)" % busiest)
    counted, raised, seen = boto3_puts("off")
    check(counted == 0 and raised == 0 and "PutImage" not in seen,
          "--quotas off: nothing throttled (%d, %d, %r)" % (counted, raised, seen))


def client_env(tmp, **extra):
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    empty = os.path.join(home, "empty")
    open(empty, "w").close()
    env = server_env()
    env.update(HOME=home, AWS_CONFIG_FILE=empty, AWS_SHARED_CREDENTIALS_FILE=empty, **extra)
    return env


def push(spec, n, tmp):
    """ecrup upload-layer of n 1 KiB layers against --quotas spec: (exit status, uploaded,
    server's view)."""
    layers = os.path.join(tmp, "layers%d" % n)
    os.makedirs(layers, exist_ok=True)
    files = []
    for i in range(n):
        path = os.path.join(layers, "l%05d" % i)
        with open(path, "wb") as f:
            f.write(os.urandom(1024))
        files.append(path)
    env = client_env(tmp)
    srv = Quoted(spec, "--sink", "--repository", "quota/push")
    t0 = time.monotonic()
    try:
        r = subprocess.run([BIN, "upload-layer", "--repository", "quota/push", "--endpoint-url",
                            srv.url, "--region", REGION, "--json", "--no-resume", *files],
                           env=env, capture_output=True, text=True, timeout=120)
    finally:
        seen = srv.stop()
    print("%d layers against --quotas %s: %.1f s, server saw %r"
          % (n, os.path.basename(spec), time.monotonic() - t0, seen), flush=True)
    return r.returncode, r.stdout.count('"status":"uploaded"'), seen


def test_engine_ecr(tmp):
    rc, uploaded, seen = push("ecr", 600, tmp)
    check(rc == 0 and uploaded == 600, "600 layers against --quotas ecr: all uploaded (%d, %d)"
          % (rc, uploaded))
    admitted = sum(v[0] for v in seen.values())
    throttled = sum(v[1] for v in seen.values())
    check(admitted >= 3 * 600, "the server saw the push (%r)" % (seen,))
    check(throttled * 100 <= 3 * admitted,
          "ecrup's pacing keeps throttles to 3 per hundred requests at most (%d of %d: %r)"
          % (throttled, admitted, seen))


def test_engine_raised(tmp):
    path = os.path.join(tmp, "raised")
    with open(path, "w") as f:
        f.write("# five times ECR's defaults\nUploadLayerPart 2500\nInitiateLayerUpload 500\n"
                "CompleteLayerUpload 500\nBatchCheckLayerAvailability 5000\n")
    rc, uploaded, seen = push(path, 1000, tmp)
    check(rc == 0 and uploaded == 1000, "1000 layers against raised quotas: all uploaded (%d, %d)"
          % (rc, uploaded))
    busiest = seen.get("InitiateLayerUpload", (0, 0, 0))[2]
    check(busiest > 200,
          "ecrup's pacing grew past the default quota: %d InitiateLayerUpload in its busiest "
          "second, over the 200 the default admits at most (%r)" % (busiest, seen))


def test_throttled_out(tmp):
    layer = os.path.join(tmp, "one")
    with open(layer, "wb") as f:
        f.write(os.urandom(3000))
    cases = [
        ("InitiateLayerUpload:throttle=#1-3,CompleteLayerUpload:throttle=#1-3", "3", "uploaded"),
        ("InitiateLayerUpload:throttle=1", "1", "failed"),
    ]
    for faults, attempts, want in cases:
        srv = Quoted("off", "--repository", "quota/out", "--faults", faults)
        try:
            r = subprocess.run([BIN, "upload-layer", "--repository", "quota/out", "--endpoint-url",
                                srv.url, "--region", REGION, "--json", "--no-resume", "--verbose",
                                layer], env=client_env(tmp, AWS_MAX_ATTEMPTS=attempts),
                               capture_output=True, text=True, timeout=120)
        finally:
            srv.stop()
        again = r.stderr.count("sending it again at the paced rate")
        if want == "uploaded":
            check(r.returncode == 0 and '"status":"uploaded"' in r.stdout and again == 2,
                  "%s: sent again twice, then uploaded (%d, %r, %d)"
                  % (faults, r.returncode, r.stdout, again))
        else:
            check(r.returncode == 1 and '"error":"ThrottlingException"' in r.stdout and again == 5,
                  "%s: five rounds, then failed as ThrottlingException (%d, %r, %d)"
                  % (faults, r.returncode, r.stdout, again))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_refusals(tmp)
        test_boto3()
        test_engine_ecr(tmp)
        test_engine_raised(tmp)
        test_throttled_out(tmp)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

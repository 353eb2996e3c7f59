#!/usr/bin/env python3
"""Edges of the upload engine, through the public API (engine_tool) against `ecrup serve`:

- credentials that expire during a push: a loopback container-credentials server the test
  starts hands out a new key pair and session token each time, expiring 303 s ahead, so the
  credential cache (refresh 300 s ahead) refreshes after ~3 s; `ecrup serve --keys` accepts
  every pair, and a push lasting several credential lifetimes succeeds having asked the
  container server more than once;
- a part size above the partSize InitiateLayerUpload returns is lowered to it (with a WARN
  line), not refused part after part; a smaller one is kept;
- a stalled connection (`--faults UploadLayerPart:stall=P`) is given up on after the stall
  window (ECRUP_LOW_SPEED_TIME=2, the test knob; libcurl averages the speed over ~5 s, so
  detection takes ~8 s) and the part retried;
- a part black-holed mid-body (`--faults UploadLayerPart:hold=#2`), its upload busy after the
  client gave the connection up: the refusals "being received" at the same point are retried
  with backoff under AWS_MAX_ATTEMPTS until the hold ends, not resumed at once;
- a CompleteLayerUpload that committed and lost its reply, then was throttled out of its
  retries (`--faults CompleteLayerUpload:lost=#1:throttle=#2-4`), is confirmed by a
  BatchCheckLayerAvailability (retried itself when throttled) and ends UPLOADED; one that
  never committed (500 on every attempt) ends FAILED with its own error; one throttled on
  every attempt is sent again at the paced rate and ends UPLOADED.
Every uploaded layer is read back from the server's store and its SHA-256 compared."""
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common  # noqa: E402
from engine_common import (ECRUP, MiB, REPO, TOOL, Server, check, failures,  # noqa: E402,F401
                           file_digest)

KEY = {"AWS_ACCESS_KEY_ID": "AKIDEDGETEST", "AWS_SECRET_ACCESS_KEY": "edge/test+secret"}
BASE = dict(os.environ)
for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
          "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS",
          "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
          "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
          "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "ECRUP_LOW_SPEED_TIME"):
    BASE.pop(k, None)
BASE["AWS_EC2_METADATA_DISABLED"] = "true"


def make_file(root, name, size):
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path, file_digest(path)


def run(server, files, *opts, env, timeout=300):
    cmd = [TOOL, "--endpoint", server.url, "--repository", REPO, "--verbose"] + list(opts) + \
        [p for p, _ in files]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    results = [l for l in lines if not l.get("summary") and "path" in l]
    summary = next((l for l in lines if l.get("summary")), {})
    return p.returncode, results, summary, p.stderr


def all_uploaded(server, files, results, what):
    check(len(results) == len(files), "%s: one result per layer" % what)
    by_path = {r["path"]: r for r in results}
    for path, digest in files:
        r = by_path.get(path, {})
        check(r.get("outcome") == "UPLOADED",
              "%s: %s uploaded (%s)" % (what, os.path.basename(path), r))
        check(r.get("digest") == digest, "%s: digest of %s" % (what, os.path.basename(path)))
        check(server.blob_sha(digest) == digest,
              "%s: stored bytes of %s hash to its digest" % (what, os.path.basename(path)))


# --- credentials that rotate during the push ------------------------------------------------

class CredHandler(http.server.BaseHTTPRequestHandler):
    pairs = []
    served = 0
    bad_auth = 0
    lock = threading.Lock()
    auth = ""

    def do_GET(self):
        cls = CredHandler
        if self.headers.get("Authorization") != cls.auth:
            with cls.lock:
                cls.bad_auth += 1
            self.send_response(401)
            self.end_headers()
            return
        with cls.lock:
            akid, secret, token = cls.pairs[min(cls.served, len(cls.pairs) - 1)]
            cls.served += 1
        # 303 s ahead: within the cache's 300 s refresh-ahead window after ~3 s.
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 303))
        body = json.dumps({"AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
                           "Expiration": exp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_rotation(root):
    pairs = [("ASIAROT%013d" % i, secrets.token_urlsafe(30), "tok/" + secrets.token_urlsafe(60))
             for i in range(64)]
    keys = os.path.join(root, "keys")
    with open(keys, "w") as f:
        f.write("# rotating pairs for test_engine_edges\n\n")
        for p in pairs:
            f.write(" ".join(p) + "\n")
    CredHandler.pairs = pairs
    CredHandler.auth = "edge-auth-" + secrets.token_hex(8)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CredHandler)
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    # No pair in the server's environment: only the file's pairs are accepted.
    server = Server(root, "--keys", keys, "--part-size", "5M", "--faults", "delay=400",
                    env=dict(BASE))
    check("AWS_SECRET_ACCESS_KEY" not in server.first_lines,
          "serve --keys without an environment pair makes none up")
    try:
        env = dict(BASE)
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = \
            "http://127.0.0.1:%d/v2/credentials/edge" % httpd.server_address[1]
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = CredHandler.auth
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(root, "no-credentials")
        env["AWS_CONFIG_FILE"] = os.path.join(root, "no-config")
        # 4 layers of 3 parts, one at a time, 0.4 s a reply: ~8 s, over two lifetimes of 3 s.
        files = [make_file(root, "rot%d" % i, 11 * MiB) for i in range(4)]
        rc, results, summary, err = run(server, files, "--concurrency", "1", env=env)
        check(rc == 0, "rotation: the push succeeds (rc %d, %s)" % (rc, err[-500:]))
        all_uploaded(server, files, results, "rotation")
        check(CredHandler.served > 1,
              "rotation: the container server was asked more than once (%d)" % CredHandler.served)
        check(CredHandler.served < len(pairs), "rotation: fewer fetches than pairs prepared")
        check(CredHandler.bad_auth == 0, "rotation: every fetch carried the authorization token")
        check(all(p[1] not in err and p[2] not in err for p in pairs),
              "rotation: no secret or session token in the engine's log")

        # A pair the server was not given is refused as ECR refuses it.
        stranger = dict(BASE, AWS_ACCESS_KEY_ID="ASIANOTINTHEFILE0000",
                        AWS_SECRET_ACCESS_KEY="x" * 40, AWS_SESSION_TOKEN="nope")
        more = [make_file(root, "stranger", 1 * MiB)]
        rc, results, summary, err = run(server, more, env=stranger)
        check(rc != 0, "rotation: a pair outside --keys is refused")
        check(any(r.get("exception") == "UnrecognizedClientException" for r in results) or
              "UnrecognizedClient" in json.dumps(summary) + err,
              "rotation: the refusal is UnrecognizedClientException (%s)" % results)
        # A pair from the file but with another pair's session token is refused too.
        mixed = dict(BASE, AWS_ACCESS_KEY_ID=pairs[0][0], AWS_SECRET_ACCESS_KEY=pairs[0][1],
                     AWS_SESSION_TOKEN=pairs[1][2])
        rc, results, summary, err = run(server, more, env=mixed)
        check(rc != 0, "rotation: a file pair with a wrong session token is refused")
    finally:
        server.stop()
        httpd.shutdown()
        httpd.server_close()

    # A malformed keys file stops the server at start, without echoing the line.
    bad = os.path.join(root, "badkeys")
    with open(bad, "w") as f:
        f.write("ONLYONEFIELD\n")
    p = subprocess.run([ECRUP, "serve", "--listen", "127.0.0.1:0", "--keys", bad],
                       capture_output=True, text=True, env=dict(BASE), timeout=30)
    check(p.returncode != 0 and "line 1" in p.stderr and "ONLYONEFIELD" not in p.stderr,
          "serve --keys with a malformed line fails naming the line only (%r)" % p.stderr)
    h = subprocess.run([ECRUP, "serve", "--help"], capture_output=True, text=True, timeout=30)
    check("--keys FILE" in h.stdout and "stall" in h.stdout, "serve --help documents --keys, stall")


# --- part size above the service's partSize -------------------------------------------------

def test_part_size(root):
    env = dict(BASE, **KEY)
    server = Server(root, "--part-size", "5M", env=env)
    try:
        files = [make_file(root, "big%d" % i, 23 * MiB) for i in range(2)]
        rc, results, summary, err = run(server, files, "--part-size", str(10 * MiB), env=env)
        check(rc == 0, "part size: a 10 MiB part size over a 5 MiB partSize succeeds (%s)"
              % err[-500:])
        all_uploaded(server, files, results, "part size over")
        check(all(r.get("parts") == 5 for r in results),
              "part size: parts follow the service's 5 MiB (%s)" % [r.get("parts") for r in results])
        check(summary.get("resumes") == 0, "part size: no part was refused and resumed")
        warns = [l for l in err.splitlines() if l.startswith("[1]") and "part size" in l]
        check(len(warns) == 1, "part size: one WARN line says so (%s)" % warns)
    finally:
        server.stop()
    server = Server(root, env=env)  # partSize 10 MiB
    try:
        files = [make_file(root, "small", 23 * MiB)]
        rc, results, summary, err = run(server, files, "--part-size", str(5 * MiB), env=env)
        check(rc == 0, "part size: 5 MiB under a 10 MiB partSize succeeds")
        all_uploaded(server, files, results, "part size under")
        check(results and results[0].get("parts") == 5, "part size: a smaller part size is kept")
        check(not any(l.startswith("[1]") and "part size" in l for l in err.splitlines()),
              "part size: no warning when under partSize")
    finally:
        server.stop()


# --- stalled connections --------------------------------------------------------------------

def test_stall(root):
    env = dict(BASE, **KEY, ECRUP_LOW_SPEED_TIME="2", AWS_MAX_ATTEMPTS="6")
    server = Server(root, "--part-size", "5M", "--faults", "seed=5,UploadLayerPart:stall=0.25",
                    env=env)
    try:
        files = [make_file(root, "stall%d" % i, 11 * MiB) for i in range(2)]
        rc, results, summary, err = run(server, files, "--concurrency", "1", env=env,
                                        timeout=240)
        check(rc == 0, "stall: the push succeeds despite stalls (%s)" % err[-800:])
        all_uploaded(server, files, results, "stall")
        requests = sum(r.get("attempts", 0) for r in results)
        # Per layer without a fault: check, initiate, 3 parts, complete.
        check(requests > 6 * len(files),
              "stall: stalled parts were retried (%d requests)" % requests)
    finally:
        server.stop()


# --- a part black-holed mid-body -------------------------------------------------------------

def test_hold(root):
    # The second part's body stops being read halfway and its upload stays busy for 10 s: the
    # stall window gives the connection up after ~7 s, and until the hold ends every attempt at
    # that part is refused "Another part ... is being received" at the same point. Those are
    # retries under the retry policy (backoff, AWS_MAX_ATTEMPTS), not resumes: the layer gets
    # through once the hold ends, its prepared body sent again as it was (no re-read, no
    # second hash pass).
    env = dict(BASE, **KEY, ECRUP_LOW_SPEED_TIME="1", AWS_MAX_ATTEMPTS="10")
    server = Server(root, "--part-size", "5M", "--faults", "UploadLayerPart:hold=#2,hold=10000",
                    env=env)
    try:
        files = [make_file(root, "held", 11 * MiB)]
        t0 = time.monotonic()
        rc, results, summary, err = run(server, files, "--no-check", env=env, timeout=240)
        took = time.monotonic() - t0
        check(rc == 0, "hold: the push succeeds once the hold ends (%s)" % err[-1500:])
        all_uploaded(server, files, results, "hold")
        refused = [l for l in err.splitlines() if "is being received" in l]
        again = [l for l in err.splitlines() if "refused at the same point; again in" in l]
        check(len(refused) >= 1 and len(again) >= 1,
              "hold: refusals at the same point were retried with a wait (%d, %d)"
              % (len(refused), len(again)))
        check(len(refused) <= 10, "hold: no more attempts than AWS_MAX_ATTEMPTS allows")
        check(summary.get("resumes") == 0 and summary.get("rehashes") == 0,
              "hold: no resume and no second hash pass (%s)" % summary)
        check(took >= 10, "hold: the layer outlasted the hold (%.1f s)" % took)
    finally:
        server.stop()


# --- a CompleteLayerUpload whose reply was lost, then throttled --------------------------------

def test_lost_complete(root):
    env = dict(BASE, **KEY)
    # The first Complete commits and loses its reply; the next three are throttled, so the job
    # runs out of its 3 attempts (whether or not libcurl re-sent the first by itself).
    lost = "CompleteLayerUpload:lost=#1:throttle=#2-4"
    for faults, what in ((lost, "lost complete"),
                         (lost + ",BatchCheckLayerAvailability:throttle=#1-2",
                          "lost complete, confirmation throttled twice")):
        server = Server(root, "--part-size", "5M", "--faults", faults, env=env)
        try:
            files = [make_file(root, "lostc", 6 * MiB)]
            rc, results, summary, err = run(server, files, "--no-check", env=env)
            check(rc == 0, "%s: the push succeeds (%s)" % (what, err[-800:]))
            all_uploaded(server, files, results, what)
            throttled = [l for l in err.splitlines()
                         if "CompleteLayerUpload attempt" in l and "Throttling" in l]
            check(len(throttled) >= 2, "%s: Complete was throttled (%s)" % (what, throttled))
            check(any("BatchCheckLayerAvailability attempt" in l and "HTTP 200" in l
                      for l in err.splitlines()), "%s: a check confirmed the layer" % what)
        finally:
            server.stop()
    # Nothing committed: the Complete's own failure stands once the check does not list it.
    server = Server(root, "--part-size", "5M", "--faults", "CompleteLayerUpload:500=#1-3",
                    env=env)
    try:
        files = [make_file(root, "failedc", 6 * MiB)]
        rc, results, summary, err = run(server, files, "--no-check", env=env)
        r = results[0] if results else {}
        check(rc != 0 and r.get("outcome") == "FAILED" and
              r.get("exception") == "ServerException" and
              "CompleteLayerUpload" in r.get("message", "") and
              "does not list" in r.get("message", ""),
              "failed complete: FAILED with the Complete's error (%s)" % r)
        check(server.blob_sha(files[0][1]) is None, "failed complete: nothing stored")
    finally:
        server.stop()
    # Throttled on every attempt, so not acted on: sent again at the paced rate (docs/engine.md,
    # "Request quotas"), and the layer is uploaded.
    server = Server(root, "--part-size", "5M", "--faults", "CompleteLayerUpload:throttle=#1-3",
                    env=env)
    try:
        files = [make_file(root, "throttledc", 6 * MiB)]
        rc, results, summary, err = run(server, files, "--no-check", env=env)
        check(rc == 0, "throttled complete: the push succeeds (%s)" % err[-800:])
        all_uploaded(server, files, results, "throttled complete")
        check("CompleteLayerUpload throttled on its last attempt; sending it again" in err,
              "throttled complete: said it sends the Complete again")
    finally:
        server.stop()


def main():
    root = tempfile.mkdtemp(prefix="ecrup-edges-")
    try:
        for name, fn in (("rotation", test_rotation), ("part_size", test_part_size),
                         ("stall", test_stall), ("hold", test_hold),
                         ("lost_complete", test_lost_complete)):
            t0 = time.monotonic()
            fn(root)
            print("%s: done in %.1f s" % (name, time.monotonic() - t0), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return engine_common.finish()


if __name__ == "__main__":
    sys.exit(main())

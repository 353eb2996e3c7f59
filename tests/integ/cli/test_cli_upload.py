#!/usr/bin/env python3
"""`ecrup upload-layer` end to end against `ecrup serve` on loopback:

- --json: one line per layer with exactly the contract's keys in order; digest, size, parts
  and status right; the server stored the bytes; a second run says `exists`; a missing
  repository gives a failed line per layer, exit 1, and one message on stderr with how to
  create it; requests and retries apart (InitiateLayerUpload failing twice);
- --create-repository makes the repository (boto3 sees it, and gets
  RepositoryAlreadyExistsException making it again) and leaves an existing one alone;
- plain output when not a terminal, failures on stderr; the progress view on a terminal (a pty);
- Ctrl-C mid-push (a slow server) exits 130 and says what was and was not pushed;
- -v -v with credentials and a session token from the environment: the server accepts the
  token, log lines appear, and no secret, token or signature is printed anywhere;
- HTTPS with a private certificate: refused, then trusted by --ca-bundle / AWS_CA_BUNDLE,
  or skipped with --insecure and a warning."""
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import boto3
import fcntl
import termios
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import (AKID, BIN, REGION, SECRET, TOKEN, MiB, Server, check,  # noqa: E402
                        creds_env, file_digest, finish, make_file, run)

KEYS = ["file", "digest", "size", "status", "parts", "attempts", "resumed_from", "requests",
        "retries"]
FAILED_KEYS = KEYS + ["error", "message"]
PART = 10 * MiB  # the server's default partSize


def parse_lines(stdout):
    """--json lines as lists of (key, value), so the order can be checked."""
    out = []
    for line in stdout.splitlines():
        try:
            out.append(json.loads(line, object_pairs_hook=lambda p: p))
        except ValueError:
            check(False, "stdout line is JSON: %r" % line)
    return out


def test_json(server, tmp):
    sizes = {"one-byte.bin": 1, "two-parts.bin": PART + 3 * MiB + 7, "exact.bin": 5 * MiB}
    files = {n: make_file(tmp, n, s, seed=1) for n, s in sizes.items()}
    env = creds_env(server.url)
    args = ["upload-layer", "--json", "--repository", "cli/json", *files.values()]
    r = run(args, env)
    check(r.returncode == 0, "json: exit 0 (got %d, %r)" % (r.returncode, r.stderr[-2000:]))
    lines = parse_lines(r.stdout)
    check(len(lines) == 3, "json: one line per layer (%d)" % len(lines))
    for pairs in lines:
        check([k for k, _ in pairs] == KEYS, "json: exactly the contract's keys in order %r"
              % pairs)
        d = dict(pairs)
        name = os.path.basename(d.get("file", ""))
        path = files.get(name)
        check(path is not None and d["file"] == path, "json: file as given (%r)" % d)
        if not path:
            continue
        size = sizes[name]
        check(d["digest"] == file_digest(path), "json %s: digest is the file's sha256" % name)
        check(d["size"] == size and isinstance(d["size"], int), "json %s: size %r" % (name, d))
        check(d["status"] == "uploaded", "json %s: uploaded (%r)" % (name, d))
        check(d["parts"] == -(-size // PART), "json %s: parts = ceil(size/partSize) (%r)"
              % (name, d))
        # The check beside the upload, initiate, the parts, complete: each once, nothing
        # retried on a server without faults; attempts counts every send.
        check(d["requests"] == d["parts"] + 3 and d["retries"] == 0,
              "json %s: requests = check, initiate, parts and complete; no retry (%r)"
              % (name, d))
        check(d["attempts"] == d["requests"] + d["retries"],
              "json %s: attempts = requests + retries (%r)" % (name, d))
        with open(path, "rb") as f:
            check(server.blob(d["digest"]) == f.read(), "json %s: the server has the bytes" % name)

    # Order of the lines follows the command line.
    check([dict(p)["file"] for p in lines] == list(files.values()),
          "json: lines in the order files were given")

    # Again: every layer is there already. By default a layer uploads while it is hashed and
    # stops when the check says it is there, never completed (docs/engine.md), so on a loaded
    # machine parts may have gone out before the answer; --check-first sends no part at all.
    for again in ([], ["--check-first"]):
        r = run(args[:1] + again + args[1:], env)
        what = "json again%s" % (" " + again[0] if again else "")
        check(r.returncode == 0, "%s: exit 0 (got %d)" % (what, r.returncode))
        for pairs in parse_lines(r.stdout):
            d = dict(pairs)
            most = 0 if again else -(-d["size"] // PART)
            check([k for k, _ in pairs] == KEYS and d["status"] == "exists" and
                  d["parts"] <= most, "%s: exists, at most %d parts sent (%r)" % (what, most, d))
            check(d["digest"] == file_digest(d["file"]), "%s: digest (%r)" % (what, d))
            check(d["size"] == os.path.getsize(d["file"]), "%s: size (%r)" % (what, d))

    # Names are escaped: quotes, backslashes, a newline, a tab, non-ASCII.
    odd = make_file(tmp, 'we"ird\\name\n\t\u20ac.bin', 4096, seed=11)
    r = run(["upload-layer", "--json", "--repository", "cli/json", odd], env)
    lines = r.stdout.splitlines()
    d = json.loads(lines[0]) if len(lines) == 1 else {}
    check(r.returncode == 0 and d.get("file") == odd and d.get("status") == "uploaded",
          "json: an odd file name is escaped, one line (%d %r)" % (r.returncode, r.stdout))

    # --part-size is honoured: 13 MiB in 5 MiB parts is 3 parts (another repository, where
    # the layer is not yet).
    big = files["two-parts.bin"]
    r = run(["upload-layer", "--json", "--repository", "cli/parts", "--part-size", "5M", big], env)
    d = dict(parse_lines(r.stdout)[0]) if r.stdout else {}
    check(r.returncode == 0 and d.get("status") == "uploaded" and d.get("parts") == 3,
          "--part-size 5M: 3 parts (%d %r)" % (r.returncode, d))

    # --digest given: used as is, and reported.
    one = files["one-byte.bin"]
    r = run(["upload-layer", "--json", "--repository", "cli/digest", "--digest",
             file_digest(one), one], env)
    d = dict(parse_lines(r.stdout)[0]) if r.stdout else {}
    check(r.returncode == 0 and d.get("status") == "uploaded" and d.get("digest") ==
          file_digest(one), "--digest: uploaded under that digest (%r)" % d)
    # A wrong --digest: the service refuses it at completion, the layer fails.
    wrong = "sha256:" + "0" * 64
    r = run(["upload-layer", "--json", "--repository", "cli/digest", "--no-check", "--digest",
             wrong, files["exact.bin"]], env)
    d = dict(parse_lines(r.stdout)[0]) if r.stdout else {}
    check(r.returncode == 1 and d.get("status") == "failed",
          "wrong --digest: failed, exit 1 (%d %r)" % (r.returncode, d))

    # A repository that does not exist: a failed line with the ECR exception, exit 1; stderr
    # says it once for the run, with how to create it.
    r = run(["upload-layer", "--json", "--repository", "cli/missing", one,
             files["exact.bin"]], env)
    check(r.returncode == 1, "missing repository: exit 1 (got %d)" % r.returncode)
    check(r.stderr.count("RepositoryNotFoundException") == 1 and
          "2 blobs not pushed" in r.stderr and
          "aws ecr create-repository --repository-name cli/missing" in r.stderr and
          "--create-repository" in r.stderr,
          "missing repository: said once on stderr, with the hint (%r)" % r.stderr)
    lines = parse_lines(r.stdout)
    check(len(lines) == 2, "missing repository: a line per layer (%r)" % r.stdout)
    for pairs in lines:
        d = dict(pairs)
        check([k for k, _ in pairs] == FAILED_KEYS, "missing repository: failure keys %r" % pairs)
        check(d["status"] == "failed" and d["error"] == "RepositoryNotFoundException" and
              "cli/missing" in d["message"], "missing repository: the exception (%r)" % d)

    # One good layer and one failing: exit 1, the good one still uploaded.
    fresh = make_file(tmp, "fresh.bin", 3 * MiB, seed=9)
    r = run(["upload-layer", "--json", "--repository", "cli/json", fresh, tmp + "/empty"], env)
    check(r.returncode == 2, "a missing file among others: usage error before anything is sent")
    open(os.path.join(tmp, "empty.bin"), "wb").close()
    r = run(["upload-layer", "--json", "--repository", "cli/json", fresh,
             os.path.join(tmp, "empty.bin")], env)
    st = {os.path.basename(dict(p)["file"]): dict(p)["status"] for p in parse_lines(r.stdout)}
    check(r.returncode == 1 and st == {"fresh.bin": "uploaded", "empty.bin": "failed"},
          "an empty layer fails alone, exit 1 (%d %r)" % (r.returncode, st))
    empty_line = [dict(p) for p in parse_lines(r.stdout) if dict(p)["status"] == "failed"]
    check(empty_line and empty_line[0]["requests"] == 0 and empty_line[0]["attempts"] == 0,
          "an empty layer: no request made (%r)" % empty_line)


def test_retries(tmp):
    """InitiateLayerUpload answers 503 twice: the third send goes through. Retries are counted
    apart from requests, and attempts holds both."""
    server = Server("--repository", "cli/retry", "--faults",
                    "InitiateLayerUpload:503=#1-2,CreateRepository:503=1")
    try:
        layer = make_file(tmp, "retry.bin", 3 * MiB, seed=12)
        env = creds_env(server.url)
        r = run(["upload-layer", "--json", "--repository", "cli/retry", layer], env)
        d = dict(parse_lines(r.stdout)[0]) if r.stdout else {}
        check(r.returncode == 0 and d.get("status") == "uploaded",
              "retries: uploaded in the end (%d %r %r)" % (r.returncode, d, r.stderr[-800:]))
        check(d.get("requests") == 4 and d.get("retries") == 2 and d.get("attempts") == 6,
              "retries: 4 requests, 2 retries, 6 sends (%r)" % d)
        layer2 = make_file(tmp, "retry2.bin", 1000, seed=13)
        r = run(["upload-layer", "--repository", "cli/retry", layer2], env)
        check(r.returncode == 0 and "1 part, 4 requests)" in r.stdout,
              "retries, plain: a clean upload says its requests, no retry (%r)" % r.stdout)
        # CreateRepository failing is said, and the run goes on: the repository may be there.
        one = dict(env, AWS_MAX_ATTEMPTS="1")
        r = run(["upload-layer", "--repository", "cli/retry", "--create-repository", layer2], one)
        check(r.returncode == 0 and "--create-repository: CreateRepository failed" in r.stderr
              and "ServiceUnavailableException" in r.stderr and "already exists" in r.stdout,
              "--create-repository failing: said, the upload goes on (%d %r %r)"
              % (r.returncode, r.stdout, r.stderr))
        r = run(["upload-layer", "--repository", "cli/absent", "--create-repository", layer2],
                one)
        check(r.returncode == 1 and "could not create it" in r.stderr and
              "aws ecr create-repository" not in r.stderr,
              "--create-repository failing, repository missing: no hint to pass it again (%r)"
              % r.stderr)
    finally:
        server.stop()


def digest_sources(stderr):
    """(bytes hashed from part buffers, bytes read again from the file) from the -vv line."""
    m = re.search(r"digest from (\d+) bytes in part buffers and (\d+) read from the file", stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


def test_digest_sources(tmp):
    """A layer of unknown digest is hashed beside its upload: every byte once, from the part
    buffers or from the file. Over a slow link the file is read ahead, so the check beside the
    upload finds a layer the repository has before most of it is sent again."""
    server = Server("--repository", "cli/slow", "--faults", "delay=50,bandwidth=20000000")
    try:
        size = 40 * MiB + 3
        layer = make_file(tmp, "slow.bin", size, seed=31)
        env = creds_env(server.url)
        r = run(["upload-layer", "--json", "-vv", "--repository", "cli/slow", layer], env)
        d = dict(parse_lines(r.stdout)[0]) if r.stdout else {}
        src = digest_sources(r.stderr)
        check(r.returncode == 0 and d.get("status") == "uploaded" and
              d.get("digest") == file_digest(layer), "slow link: uploaded (%r)" % d)
        check(src is not None and sum(src) == size,
              "slow link: every byte hashed once, from buffers or the file (%r)" % (src,))
        r = run(["upload-layer", "--json", "-vv", "--no-resume", "--repository", "cli/slow",
                 layer], env)
        d = dict(parse_lines(r.stdout)[0]) if r.stdout else {}
        check(r.returncode == 0 and d.get("status") == "exists" and d.get("parts", 99) <= 2,
              "slow link, layer there: found before most parts went again (%r)" % d)
    finally:
        server.stop()


def test_create_repository(server, tmp):
    """--create-repository makes a missing repository (CreateRepository, which boto3 then sees)
    and leaves an existing one alone."""
    layer = make_file(tmp, "made.bin", 2 * MiB, seed=14)
    env = creds_env(server.url)
    r = run(["upload-layer", "--repository", "cli/made", "--create-repository", layer], env)
    check(r.returncode == 0 and "created repository cli/made" in r.stderr and
          "pushed " + file_digest(layer) in r.stdout,
          "--create-repository: created, then pushed (%d %r %r)" % (r.returncode, r.stdout,
                                                                   r.stderr))
    client = boto3.client("ecr", endpoint_url=server.url, region_name=REGION,
                          aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                          aws_session_token=TOKEN, config=Config(retries={"max_attempts": 1}))
    repos = client.describe_repositories(repositoryNames=["cli/made"])["repositories"]
    check(len(repos) == 1 and repos[0]["repositoryName"] == "cli/made" and
          repos[0]["repositoryUri"].endswith("/cli/made") and
          repos[0]["repositoryArn"].endswith(":repository/cli/made") and
          repos[0]["registryId"] and repos[0]["createdAt"],
          "--create-repository: boto3 describes the repository (%r)" % repos)
    try:
        client.create_repository(repositoryName="cli/made")
        check(False, "boto3 CreateRepository again: RepositoryAlreadyExistsException")
    except client.exceptions.RepositoryAlreadyExistsException:
        pass
    made = client.create_repository(repositoryName="cli/boto")["repository"]
    check(made["repositoryName"] == "cli/boto" and made["repositoryUri"].endswith("/cli/boto"),
          "boto3 CreateRepository: the repository it expects (%r)" % made)
    # There already: nothing said of it, the layer exists.
    r = run(["upload-layer", "--json", "--repository", "cli/made", "--create-repository",
             layer], env)
    d = dict(parse_lines(r.stdout)[0]) if r.stdout else {}
    check(r.returncode == 0 and d.get("status") == "exists" and "created" not in r.stderr,
          "--create-repository, repository there: left alone (%d %r %r)" % (r.returncode, d,
                                                                          r.stderr))
    r = run(["upload-layer", "--json", "--repository", "cli/boto", "--create-repository",
             layer], env)
    check(r.returncode == 0 and '"status":"uploaded"' in r.stdout and r.stderr == "",
          "--create-repository into a repository boto3 made (%d %r)" % (r.returncode, r.stderr))


def test_plain(server, tmp):
    layer = make_file(tmp, "plain.bin", 6 * MiB + 1, seed=2)
    env = creds_env(server.url)
    r = run(["upload-layer", "--repository", "cli/plain", layer], env)
    check(r.returncode == 0, "plain: exit 0 (%r)" % r.stderr)
    digest = file_digest(layer)
    check("%s: pushed %s (%d bytes, 1 part," % (layer, digest, 6 * MiB + 1) in r.stdout,
          "plain: a line with file, digest, size (%r)" % r.stdout)
    check(re.search(r"^1 pushed, 0 existed, 0 failed; 6\.29MB pushed in [0-9.]+ s \([0-9.]+ MB/s\)$",
                    r.stdout, re.M), "plain: the summary (%r)" % r.stdout)
    check("\x1b" not in r.stdout + r.stderr, "plain: no terminal escapes when not a terminal")
    check("Pushing" not in r.stdout + r.stderr, "plain: no progress lines")
    r = run(["upload-layer", "--repository", "cli/plain", layer], env)
    check(r.returncode == 0 and "%s: already exists %s" % (layer, digest) in r.stdout and
          "0 pushed, 1 existed, 0 failed" in r.stdout, "plain again: exists (%r)" % r.stdout)
    r = run(["upload-layer", "--quiet", "--repository", "cli/plain", layer], env)
    check(r.returncode == 0 and r.stdout == "" and r.stderr == "", "--quiet: silent on success")
    r = run(["upload-layer", "--quiet", "--repository", "cli/none", layer], env)
    check(r.returncode == 1 and r.stdout == "" and "RepositoryNotFoundException" in r.stderr,
          "--quiet: the error alone, on stderr (%r %r)" % (r.stdout, r.stderr))
    # Plain, a missing repository: nothing per blob, one message naming the exception once.
    other = make_file(tmp, "plain-2.bin", 1000, seed=3)
    r = run(["upload-layer", "--repository", "cli/none", layer, other], env)
    check(r.returncode == 1 and r.stderr.count("RepositoryNotFoundException") == 1 and
          r.stderr.count("\n") == 2 and layer not in r.stderr and
          "--repository-name cli/none" in r.stderr,
          "plain, missing repository: said once with the hint (%r)" % r.stderr)
    check(re.search(r"^0 pushed, 0 existed, 2 failed;", r.stdout, re.M) and
          "failed:" not in r.stdout, "plain, missing repository: only the summary on stdout (%r)"
          % r.stdout)
    # Failure lines go to stderr, the rest to stdout.
    empty = os.path.join(tmp, "plain-empty.bin")
    open(empty, "wb").close()
    r = run(["upload-layer", "--repository", "cli/plain", other, empty], env)
    check(r.returncode == 1 and ("%s: pushed" % other) in r.stdout and
          ("%s: failed: EmptyLayer" % empty) in r.stderr and empty not in r.stdout,
          "plain: a failed layer's line on stderr, the pushed one's on stdout (%r %r)"
          % (r.stdout, r.stderr))


def run_pty(args, env, timeout=120, cols=100, rows=30, on_output=None):
    """Run with stdout and stderr on a pseudo-terminal; returns (exit status, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen([BIN, *args], env=env, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if on_output:
                on_output(proc, out)
        elif proc.poll() is not None:
            break
    try:
        rc = proc.wait(timeout=max(1, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    os.close(master)
    return rc, out.decode("utf-8", "replace")


def test_terminal(tmp):
    # Replies delayed so the upload lasts long enough to be drawn while it pushes.
    server = Server("--repository", "cli/tty", "--faults", "delay=150")
    try:
        a = make_file(tmp, "tty-a.bin", 25 * MiB, seed=4)
        b = make_file(tmp, "tty-b.bin", 7 * MiB, seed=5)
        env = creds_env(server.url)
        rc, out = run_pty(["upload-layer", "--repository", "cli/tty", "--part-size", "5M", a, b],
                          env)
        check(rc == 0, "terminal: exit 0 (got %d, %r)" % (rc, out[-2000:]))
        check("tty-a.bin: " in out and "tty-b.bin: " in out, "terminal: a line per layer")
        check("Waiting" in out, "terminal: layers start Waiting")
        check(re.search(r"Pushing \[=*>? *\] +[0-9.]+[kMG]?B/26\.2MB", out),
              "terminal: a Pushing line with bar and bytes (%r)" % out[-3000:])
        check(re.search(r"[0-9.]+ [kMG]?B/s", out), "terminal: a rate")
        check(out.count("Pushed") >= 2, "terminal: both layers end Pushed")
        check("\x1b[" in out and re.search(r"\x1b\[\d+A", out),
              "terminal: lines redrawn in place with cursor movement")
        check("2 pushed, 0 existed, 0 failed" in out, "terminal: the summary")
        check(file_digest(a) in out, "terminal: the digest is printed")
        # Every drawn line fits the terminal, so redraws never wrap.
        drawn = re.findall(r"\x1b\[2K([^\r\n\x1b]*)", out)
        width = max((len(d) for d in drawn), default=0)
        check(drawn and width < 100, "terminal: no drawn line is as wide as the terminal (%d)"
              % width)

        # More layers than the terminal has rows: one line stands for them all.
        many = [make_file(tmp, "many-%02d.bin" % i, 1000 + i, seed=8) for i in range(12)]
        rc, out = run_pty(["upload-layer", "--repository", "cli/tty", *many], env, rows=10)
        check(rc == 0 and "12 layers (12 done, 0 failed)" in out and "many-00.bin: " not in
              out.split("12 layers")[0], "terminal, 12 layers on 10 rows: one aggregate line "
              "(%d %r)" % (rc, out[-1500:]))
        check("12 pushed, 0 existed, 0 failed" in out, "terminal, 12 layers: the summary")

        rc, out = run_pty(["upload-layer", "--repository", "cli/tty", a], env)
        check(rc == 0 and "Layer already exists" in out, "terminal again: Layer already exists")
        rc, out = run_pty(["upload-layer", "--repository", "cli/nothere", b], env)
        check(rc == 1 and "Failed: no such repository" in out and
              out.count("RepositoryNotFoundException") == 1 and
              "aws ecr create-repository --repository-name cli/nothere" in out,
              "terminal: Failed: no such repository, the exception once, the hint (%d %r)"
              % (rc, out[-1500:]))
    finally:
        server.stop()


def test_interrupt(tmp):
    # Every reply takes 2 s: the push is certainly under way when Ctrl-C comes.
    server = Server("--repository", "cli/slow", "--faults", "delay=2000")
    try:
        a = make_file(tmp, "slow-a.bin", 30 * MiB, seed=6)
        env = creds_env(server.url)
        proc = subprocess.Popen([BIN, "upload-layer", "-v", "--repository", "cli/slow",
                                 "--part-size", "5M", "--no-check", a], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Wait for the first request's log line: the engine is running.
        line = proc.stderr.readline()
        check(line != "", "interrupt: the run logs its first request")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        check(proc.returncode == 130, "Ctrl-C: exit 130 (got %s)" % proc.returncode)
        check("interrupted" in err, "Ctrl-C: says it was interrupted (%r)" % err[-1500:])
        check("0 of 1 layer pushed" in err and "not pushed" in err and a in err,
              "Ctrl-C: says what was not pushed (%r)" % err[-1500:])
        check(server.blob(file_digest(a)) is None, "Ctrl-C: the layer did not land")

        # --json: the layer's line says it failed, cancelled.
        proc = subprocess.Popen([BIN, "upload-layer", "--json", "-v", "--repository",
                                 "cli/slow", "--no-check", a], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        proc.stderr.readline()
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        check(proc.returncode == 130, "Ctrl-C --json: exit 130 (got %s)" % proc.returncode)
        d = json.loads(out) if out.count("\n") == 1 else {}
        check(d.get("status") == "failed" and d.get("file") == a,
              "Ctrl-C --json: the layer's line says failed (%r)" % out)

        # A second Ctrl-C quits at once.
        proc = subprocess.Popen([BIN, "upload-layer", "-v", "--repository", "cli/slow",
                                 "--no-check", a], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        check(proc.returncode == 130, "second Ctrl-C: exit 130 (got %s)" % proc.returncode)

        # On a terminal too.
        sent = []

        def interrupt_when_pushing(p, so_far):
            # "Resuming at": the runs above left the upload in the journal.
            if not sent and (b"Pushing" in so_far or b"Resuming at" in so_far):
                sent.append(1)
                p.send_signal(signal.SIGINT)

        rc, out = run_pty(["upload-layer", "--repository", "cli/slow", "--part-size", "5M",
                           "--no-check", a], env, on_output=interrupt_when_pushing)
        check(sent and rc == 130, "Ctrl-C on a terminal: exit 130 (%s %r)" % (rc, out[-1500:]))
        check("Failed: interrupted" in out and "not pushed" in out,
              "Ctrl-C on a terminal: the view and the report say so (%r)" % out[-1500:])
    finally:
        server.stop()


def test_verbose_secrets(server, tmp):
    layer = make_file(tmp, "verbose.bin", 11 * MiB, seed=7)
    env = creds_env(server.url, token=True)
    r = run(["upload-layer", "--verbose", "-v", "--repository", "cli/verbose", layer], env)
    check(r.returncode == 0, "-v -v with a session token: the server accepted it (%d %r)"
          % (r.returncode, r.stderr[-2000:]))
    both = r.stdout + r.stderr
    for op in ("InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload"):
        check(op in r.stderr, "-v -v: a log line names %s" % op)
    check(SECRET not in both, "-v -v: the secret key is never printed")
    check(TOKEN not in both, "-v -v: the session token is never printed")
    for piece in (SECRET[:12], SECRET[-12:], TOKEN[:16], TOKEN[-16:]):
        check(piece not in both, "-v -v: no piece of a secret is printed (%r)" % piece)
    sigs = re.findall(r"Signature=([^\s,\"']*)", both)
    check(all(s in ("", "***") for s in sigs), "-v -v: every Signature= value is masked (%r)"
          % sigs[:3])
    # A wrong token is refused: the token really is checked by the server.
    bad = dict(env, AWS_SESSION_TOKEN="not-the-token-0123456789")
    r = run(["upload-layer", "--json", "--repository", "cli/verbose", "--no-check", layer], bad)
    d = json.loads(r.stdout) if r.stdout.count("\n") == 1 else {}
    check(r.returncode == 1 and d.get("error") == "UnrecognizedClientException",
          "a wrong session token is refused (%d %r)" % (r.returncode, r.stdout))


def test_tls(tmp):
    """HTTPS with a private certificate: refused by default with a clear TLS error, accepted
    with --ca-bundle or AWS_CA_BUNDLE, and with --insecure after a warning."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    check(r.returncode == 0, "openssl makes a test certificate (%r)" % r.stderr[-500:])
    if r.returncode != 0:
        return
    server = Server("--repository", "cli/tls", "--tls-cert", cert, "--tls-key", key)
    try:
        check(server.url.startswith("https://"), "TLS: the server speaks HTTPS")
        layer = make_file(tmp, "tls.bin", 2 * MiB, seed=10)
        env = creds_env(server.url)
        args = ["upload-layer", "--json", "--no-check", "--repository", "cli/tls", layer]
        r = run(args, env)
        d = json.loads(r.stdout) if r.stdout.count("\n") == 1 else {}
        check(r.returncode == 1 and d.get("status") == "failed" and
              re.search(r"TLS|SSL|certificate", d.get("error", "") + d.get("message", ""), re.I),
              "TLS: an untrusted certificate fails clearly (%d %r)" % (r.returncode, r.stdout))
        r = run(args[:1] + ["--ca-bundle", cert] + args[1:], env)
        check(r.returncode == 0 and '"status":"uploaded"' in r.stdout,
              "TLS: --ca-bundle trusts the private CA (%d %r)" % (r.returncode, r.stdout))
        r = run(args, dict(env, AWS_CA_BUNDLE=cert))
        check(r.returncode == 0, "TLS: AWS_CA_BUNDLE too (%d %r)" % (r.returncode, r.stdout))
        r = run(args[:1] + ["--insecure"] + args[1:], env)
        check(r.returncode == 0 and "warning: --insecure" in r.stderr,
              "TLS: --insecure connects, and warns (%d %r)" % (r.returncode, r.stderr))
    finally:
        server.stop()


def test_max_rate(server, tmp):
    """--max-rate lowers an operation's request rate below ECR's default quota: six layers
    at two InitiateLayerUpload a second (90% of it, after a burst of one) cannot all start in
    under 5 / 1.8 s, however fast the machine. Load only makes it slower, never faster."""
    files = [make_file(tmp, "rate-%d.bin" % i, 1000 + i, seed=40 + i) for i in range(6)]
    env = creds_env(server.url)
    t0 = time.monotonic()
    r = run(["upload-layer", "--json", "--no-check", "--repository", "cli/rate",
             "--max-rate", "InitiateLayerUpload=2", *files], env)
    elapsed = time.monotonic() - t0
    lines = [dict(p) for p in parse_lines(r.stdout)]
    check(r.returncode == 0 and len(lines) == 6 and
          all(d["status"] == "uploaded" for d in lines), "max-rate: all uploaded (%r)" % r.stderr)
    check(elapsed >= 2.5, "max-rate: 6 initiates at 2/s took %.2f s, not >= 2.5 s" % elapsed)
    for bad, what in (("Foo=3", "OPERATION=N"), ("InitiateLayerUpload=0", "positive"),
                      ("UploadLayerPart=x", "positive"), ("InitiateLayerUpload", "OPERATION=N")):
        r = run(["upload-layer", "--repository", "cli/rate", "--max-rate", bad, files[0]], env)
        check(r.returncode == 2 and what in r.stderr and not r.stdout,
              "max-rate %s: usage error (%d %r)" % (bad, r.returncode, r.stderr))


def test_repository_uri(server, tmp):
    """--repository as the console shows it: the registry id and the region come from the
    host (no AWS_REGION here); a contradicting flag or a non-ECR host is refused."""
    layer = make_file(tmp, "uri.bin", 3 * MiB, seed=9)
    env = creds_env(server.url)
    env.pop("AWS_REGION", None)
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cli/uri"
    r = run(["upload-layer", "--json", "--repository", uri, layer], env)
    d = json.loads(r.stdout) if r.stdout.count("\n") == 1 else {}
    check(r.returncode == 0 and d.get("status") == "uploaded" and
          server.blob_sha(file_digest(layer)) == file_digest(layer),
          "--repository URI: pushed to cli/uri with the URI's region: %r %r" % (r.stdout,
                                                                               r.stderr[-500:]))
    r = run(["upload-layer", "--region", "us-east-1", "--repository", uri, layer], env)
    check(r.returncode == 2 and "--region us-east-1 contradicts the region eu-west-1" in r.stderr
          and r.stdout == "", "--repository URI and another --region: refused (%r)" % r.stderr)
    r = run(["upload-layer", "--registry-id", "210987654321", "--repository", uri, layer], env)
    check(r.returncode == 2 and "contradicts the registry 123456789012" in r.stderr,
          "--repository URI and another --registry-id: refused (%r)" % r.stderr)
    r = run(["upload-layer", "--repository", "docker.io/library/app", layer], env)
    check(r.returncode == 2 and "not an ECR registry" in r.stderr,
          "--repository with a non-ECR host: refused (%r)" % r.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="ecrup-cli-")
    server = Server("--repository", "cli/json", "--repository", "cli/parts", "--repository",
                    "cli/digest", "--repository", "cli/plain", "--repository", "cli/verbose",
                    "--repository", "cli/rate", "--repository", "cli/uri")
    try:
        test_repository_uri(server, tmp)
        test_json(server, tmp)
        layer = make_file(tmp, "sources.bin", 30 * MiB + 7, seed=30)
        r = run(["upload-layer", "-vv", "--repository", "cli/parts", layer], creds_env(server.url))
        src = digest_sources(r.stderr)
        check(r.returncode == 0 and src is not None and sum(src) == 30 * MiB + 7,
              "every byte hashed once, from the part buffers or the file (%r)" % (src,))
        test_plain(server, tmp)
        test_verbose_secrets(server, tmp)
        test_max_rate(server, tmp)
        test_create_repository(server, tmp)
    finally:
        server.stop()
    test_retries(tmp)
    test_digest_sources(tmp)
    test_terminal(tmp)
    test_interrupt(tmp)
    test_tls(tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    finish("test_cli_upload")


if __name__ == "__main__":
    main()

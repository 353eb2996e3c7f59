#!/usr/bin/env python3
"""`ecrup serve` with arguments at and past the lengths it takes: what fits works whole, what
does not is refused at start with a message naming it, and nothing is cut to mean something
else.

  1. TMPDIR of 700 characters: the temporary data directory is made under it, used, and
     removed at exit;
  2. --data-dir of 1100 characters: the repositories made at start are stored where the
     layout says (repos/<name>.json) and nothing is made beside the directory;
  3. --data-dir longer than the store takes: refused, "too long";
  4. --faults whose operation name is longer than a rule holds: refused, naming it;
  5. --listen with a host longer than any IPv4 address: refused, naming the argument;
  6. an explicit --data-dir is made 0700 with files 0600, and a second server on it is refused
     while the first runs.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish, stop_checked  # noqa: E402

BIN = os.path.join(os.environ.get("ECRUP_BINARY_DIR", "build"), "ecrup")
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID="AKIDECRUPTEST0000001",
           AWS_SECRET_ACCESS_KEY="ecrup-test-secret-key/0123456789abcdefghij")
ENV.pop("AWS_SESSION_TOKEN", None)


def long_dir(base, length, make_last=False):
    """A path under base of exactly `length` characters, its parents made (components of up to
    200 characters)."""
    path = base
    while True:
        left = length - len(path) - 1
        take = min(left, 200)
        path = path + "/" + "d" * take
        if take == left:
            if make_last:
                os.mkdir(path)
            return path
        os.mkdir(path)


def start(*args, env=ENV):
    """Start `ecrup serve` on a free port: (process, first stdout line)."""
    proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline()


def refused(args, needle, what):
    r = subprocess.run([BIN, "serve", *args], env=ENV, capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and needle in r.stderr,
          "%s: exit 1 naming it (exit %d, %r)" % (what, r.returncode, r.stderr[:300]))


def main():
    with tempfile.TemporaryDirectory() as base:
        tmpdir = long_dir(base, 700, make_last=True)
        proc, line = start(env=dict(ENV, TMPDIR=tmpdir))
        ok = check(line.startswith("ecrup serve: listening on "),
                   "starts with TMPDIR of 700 characters (%r)" % line)
        if ok:
            made = os.listdir(tmpdir)
            check(len(made) == 1 and made[0].startswith("ecrup-serve-"),
                  "its data directory is under TMPDIR (%r)" % made)
            stop_checked(proc)
            check(os.listdir(tmpdir) == [], "and is removed at exit")
        else:
            proc.kill()
            proc.wait()
            print(proc.stderr.read())
            stop_checked(proc)

        os.mkdir(base + "/data")
        data = long_dir(base + "/data", 1100)
        name = "team/" + "n" * 230
        proc, line = start("--data-dir", data, "--repository", name)
        check(line.startswith("ecrup serve: listening on "), "starts with --data-dir of %d "
              "characters (%r)" % (len(data), line))
        stored = os.path.join(data, "repos", name.replace("/", "+") + ".json")
        check(os.path.exists(stored), "the repository made at start is stored under repos/")
        check(sorted(os.listdir(data)) == [".lock", "blobs", "manifests", "repos", "uploads"],
              "the data directory holds the layout and nothing else (%r)" % sorted(os.listdir(data)))
        check(os.listdir(os.path.dirname(data)) == [os.path.basename(data)],
              "nothing is made beside the data directory")
        # 0700 and 0600, as the temporary one: what clients pushed is nobody else's to read.
        check(os.stat(data).st_mode & 0o777 == 0o700 and
              os.stat(os.path.join(data, "repos")).st_mode & 0o777 == 0o700 and
              os.stat(stored).st_mode & 0o777 == 0o600,
              "--data-dir made 0700, its files 0600 (%o, %o)" % (os.stat(data).st_mode & 0o777,
                                                                  os.stat(stored).st_mode & 0o777))
        # One server per data directory: a second would overwrite the first's files.
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data], env=ENV,
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 1 and "is in use by another ecrup serve" in r.stderr,
              "a second server on the data directory is refused (exit %d, %r)" %
              (r.returncode, r.stderr[:300]))
        check(proc.poll() is None, "and the first goes on")
        stop_checked(proc)
        proc, line = start("--data-dir", data)
        check(line.startswith("ecrup serve: listening on "),
              "once the first has stopped, the directory is free again (%r)" % line)
        stop_checked(proc)

    refused(["--data-dir", "/tmp/" + "x" * 3900], "too long", "--data-dir of 3905 characters")
    op = "Op" * 30
    refused(["--faults", "seed=1,%s:throttle=0.5" % op], op, "--faults operation of 60 characters")
    refused(["--listen", "1" * 80 + ":5000"], "--listen wants HOST:PORT", "--listen host of 80")
    return finish("test_serve_args")


if __name__ == "__main__":
    sys.exit(main())

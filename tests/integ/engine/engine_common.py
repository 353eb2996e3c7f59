"""What the engine's script tests share: paths, the checks of tests/support/checks.py, and
`ecrup serve` with a data directory on loopback, started by the test and read back from its
store."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, failures, file_digest, finish  # noqa: E402,F401  (re-exported)
import serve  # noqa: E402

BIN = os.environ["ECRUP_BINARY_DIR"]
ECRUP = os.path.join(BIN, "ecrup")
TOOL = os.path.join(BIN, "tests", "integ", "engine", "engine_tool")
MiB = 1 << 20
REPO = "team/app"


def make_blocks(root, name, size):
    """A file of `size` bytes whose every 4 KiB block differs (an offset error of a block
    cannot hide), at root/name."""
    import hashlib
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        seed = os.urandom(16)
        left, i = size, 0
        while left > 0:
            block = hashlib.sha256(seed + b"%d" % i).digest() * 128  # 4 KiB
            f.write(block[:min(left, len(block))])
            left -= len(block)
            i += 1
    return path


def client_env(akid, secret):
    """The environment of an engine run: a static key pair, no AWS or engine setting of the
    caller's, no instance metadata."""
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_EC2_METADATA_DISABLED": "true"})
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR",
              "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "ECRUP_IO_BACKEND", "ECRUP_IO_DIRECT",
              "ECRUP_BASE64_BACKEND", "ECRUP_SHA256"):
        env.pop(k, None)
    return env


def run_tool(server, layers, *opts, env, timeout=300, repo=REPO):
    """engine_tool over `layers` against `server`: (results, summary, process), with the
    invariants every run keeps checked (progress never concurrent with itself nor going
    backwards without a restart, no secret logged)."""
    cmd = [TOOL, "--endpoint", server.url, "--repository", repo] + list(opts) + list(layers)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    results = [l for l in lines if "path" in l]
    summary = next((l for l in lines if l.get("summary")), None)
    if summary is None:
        print(p.stdout, p.stderr, file=sys.stderr)
        raise SystemExit("engine_tool gave no summary (rc %d)" % p.returncode)
    check(summary["progress_overlaps"] == 0, "progress callback ran concurrently with itself")
    # acknowledged bytes fall only when the upload started over or the server fell behind
    check(summary["progress_backwards"] == 0 or summary["restarts"] or summary["resumes"],
          "progress bytes went backwards: %s" % summary)
    # the bytes on the wire: never below those acknowledged, and a part sent again falls back
    # to where it starts, no further, unless the upload started over or the server fell behind
    check(summary["sent_below_done"] == 0, "bytes_sent below bytes_done: %s" % summary)
    check(summary["sent_back_past_done"] == 0 or summary["restarts"] or summary["resumes"],
          "bytes_sent fell back past the acknowledged bytes: %s" % summary)
    check(summary["secrets_logged"] == 0, "a log line contained the secret key")
    return results, summary, p


def check_file_changed(result, path, what):
    """A layer whose file changed during the upload ended FileChanged (status 4), naming it."""
    check(result["outcome"] == "FAILED" and result["status"] == 4 and
          result["exception"] == "FileChanged" and path in result["message"],
          "%s: %s" % (what, result))


def main_in_tmpdir(prefix, scenarios):
    """Run scenarios(root) in a fresh temporary directory, removed after; exit with the
    tally's status."""
    root = tempfile.mkdtemp(prefix=prefix)
    try:
        scenarios(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(finish())


class Server(serve.Server):
    """`ecrup serve` on 127.0.0.1 with its own data directory under `root`, serving REPO."""

    def __init__(self, root, *extra, env, listen="127.0.0.1:0"):
        super().__init__(ECRUP, "--repository", REPO, *extra, env=env, listen=listen,
                         data_dir=tempfile.mkdtemp(dir=root, prefix="data-"),
                         stderr=subprocess.DEVNULL)

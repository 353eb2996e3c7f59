"""What the engine's script tests share: paths, the checks of tests/support/checks.py, and
`ecrup serve` with a data directory on loopback, started by the test and read back from its
store."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, failures, file_digest, finish  # noqa: E402,F401  (re-exported)

BIN = os.environ["ECRUP_BINARY_DIR"]
ECRUP = os.path.join(BIN, "ecrup")
TOOL = os.path.join(BIN, "tests", "integ", "engine", "engine_tool")
MiB = 1 << 20
REPO = "team/app"


class Server:
    """`ecrup serve` on 127.0.0.1 with its own data directory under `root`."""

    def __init__(self, root, *extra, env, listen="127.0.0.1:0"):
        self.data = tempfile.mkdtemp(dir=root, prefix="data-")
        self.proc = subprocess.Popen(
            [ECRUP, "serve", "--listen", listen, "--data-dir", self.data,
             "--repository", REPO] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit("server did not start: %r" % line)
        self.first_lines = line
        self.url = line.split("listening on ")[1].strip()

    def blob_sha(self, digest):
        """The SHA-256 of the blob stored under `digest`, or None when there is none."""
        path = os.path.join(self.data, "blobs", "sha256", digest.split(":")[1])
        return file_digest(path) if os.path.exists(path) else None

    def wait_part_acked(self, timeout=120):
        """Wait until some upload has a part acknowledged (its state file says so): the
        engine has admitted the layer and is mid-upload, however slowly it started."""
        up = os.path.join(self.data, "uploads")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in os.listdir(up) if os.path.isdir(up) else ():
                if name.endswith(".json"):
                    try:
                        with open(os.path.join(up, name)) as f:
                            if json.load(f).get("length", 0) > 0:
                                return True
                    except (OSError, ValueError):
                        pass  # completed and removed meanwhile
            time.sleep(0.02)
        return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

"""`ecrup serve` as the script tests start it: on loopback, a port the kernel picks unless told,
stopped with its exit status checked (checks.stop_checked: SIGTERM must end it with status 0).
The area modules (tests/integ/cli/cli_common.py, tests/integ/engine/engine_common.py,
tests/integ/server/test_server.py) subclass Server only to build their environment and
arguments. Found the same way as checks.py (sys.path holds tests/support)."""
import json
import os
import shutil
import subprocess
import time

from checks import file_digest, stop_checked

BANNER = "ecrup serve: listening on "


class Server:
    """`binary serve --listen LISTEN [--data-dir DATA_DIR] *args` with environment `env`.

    data_dir: the store the blob readers look in (None: the caller passes none or its own in
    `args`); remove_data: stop() deletes it. stderr: where the server's stderr goes (a pipe by
    default, shown when it does not start). notes: lines the server prints after the banner
    that the caller wants (the key pair `serve` makes up when it has none), kept in `extra`.
    Attributes: proc, url, data, first_lines (the banner line), extra."""

    def __init__(self, binary, *args, env, data_dir=None, remove_data=False,
                 listen="127.0.0.1:0", stderr=subprocess.PIPE, notes=0):
        self.data = data_dir
        self.remove_data = remove_data
        cmd = [binary, "serve", "--listen", listen]
        if data_dir is not None:
            cmd += ["--data-dir", data_dir]
        self.proc = subprocess.Popen(cmd + list(args), env=env, stdout=subprocess.PIPE,
                                     stderr=stderr, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith(BANNER):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("server did not start: %r %s" % (line, err))
        self.first_lines = line
        self.url = line.split()[-1]
        self.extra = [self.proc.stdout.readline().strip() for _ in range(notes)]

    def _blob_path(self, digest):
        return os.path.join(self.data, "blobs", "sha256", digest.split(":", 1)[1])

    def blob(self, digest):
        """The bytes the server stored for `digest`, or None."""
        path = self._blob_path(digest)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def blob_sha(self, digest):
        """The SHA-256 of the blob stored under `digest`, or None when there is none."""
        path = self._blob_path(digest)
        return file_digest(path) if os.path.exists(path) else None

    def wait_part_acked(self, timeout=120):
        """Wait until some upload has a part acknowledged (its state file says so): the
        client has admitted the layer and is mid-upload, however slowly it started."""
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
        """SIGTERM; check it exits 0 (SIGKILL after 30 s, counted as a failure)."""
        stop_checked(self.proc)
        if self.remove_data and self.data:
            shutil.rmtree(self.data, ignore_errors=True)

    def kill(self):
        """SIGKILL and reap: a crash the test makes on purpose, or the cleanup of a server a
        failed check left running (its exit status is not checked)."""
        self.proc.kill()
        self.proc.wait()

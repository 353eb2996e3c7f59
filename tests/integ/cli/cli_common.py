"""Shared pieces of the CLI tests: the binary, a clean environment, checks, `ecrup serve`.

Every server is started here on 127.0.0.1:0 with its own temporary data directory and a
known key pair, and stopped at the end; nothing leaves loopback."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
import checks  # noqa: E402
import serve  # noqa: E402
from checks import check, file_digest  # noqa: E402,F401  (re-exported)

BUILD = os.environ.get("ECRUP_BINARY_DIR", "build")
SOURCE = os.environ.get("ECRUP_SOURCE_DIR", ".")
BIN = os.path.abspath(os.path.join(BUILD, "ecrup"))
AKID = "AKIDECRUPCLITEST0001"
SECRET = "cli-test-secret/KEY+0123456789abcdefghijklmn"
TOKEN = "IQoJb3JpZ2luX2VjEcliTestSessionToken/0123456789+abcdefghijklmnopqrstuvwxyz=="
REGION = "us-east-1"
MiB = 1024 * 1024

_home = tempfile.mkdtemp(prefix="ecrup-cli-home-")  # empty: no ~/.aws of the caller's


def finish(name):
    """Remove the clean HOME, print the tally and exit: 1 on any failed check."""
    shutil.rmtree(_home, ignore_errors=True)
    sys.exit(checks.finish(name))


def clean_env(**extra):
    """The environment of a client run: no AWS settings from the caller's machine, no IMDS,
    no shared files, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    home = _home
    env.update(HOME=home, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.path.join(home, "config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"))
    env.update(extra)
    return env


def creds_env(url, token=True, **extra):
    """A client environment pointing at `url` with the test key pair (and session token)."""
    env = clean_env(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION=REGION,
                    AWS_ENDPOINT_URL=url, **extra)
    if token:
        env["AWS_SESSION_TOKEN"] = TOKEN
    return env


def make_file(directory, name, size, seed=0):
    """A file of `size` pseudo-random (incompressible) bytes."""
    path = os.path.join(directory, name)
    rnd = __import__("random").Random(seed * 7919 + size)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, MiB)
            f.write(rnd.randbytes(n))
            left -= n
    return path


class Server(serve.Server):
    """`ecrup serve` on 127.0.0.1:0 with a temporary data directory (removed at stop) and the
    test key pair."""

    def __init__(self, *args, token=True):
        env = clean_env(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
        if token:
            env["AWS_SESSION_TOKEN"] = TOKEN
        super().__init__(BIN, *args, env=env, remove_data=True,
                         data_dir=tempfile.mkdtemp(prefix="ecrup-cli-data-"))


def run(args, env, timeout=120, **kw):
    return subprocess.run([BIN, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)

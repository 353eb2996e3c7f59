#!/usr/bin/env python3
"""The embedding example of docs/embedding.md: the code block in the document is
docs/examples/push_one.c verbatim, and that program (built by CMake against the library)
pushes a layer to `ecrup serve`, sees it exist on a second run, and reports a failure."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import (BUILD, MiB, SOURCE, Server, check, creds_env,  # noqa: E402
                        file_digest, finish, make_file)

TOOL = os.path.join(BUILD, "tests", "integ", "cli", "push_one")


def main():
    with open(os.path.join(SOURCE, "docs", "embedding.md")) as f:
        doc = f.read()
    with open(os.path.join(SOURCE, "docs", "examples", "push_one.c")) as f:
        code = f.read()
    blocks = re.findall(r"^```c\n(.*?)^```$", doc, re.S | re.M)
    check(len(blocks) == 1, "docs/embedding.md has one C block (%d)" % len(blocks))
    check(blocks and blocks[0] == code, "the C block is docs/examples/push_one.c verbatim")
    body = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    check(len(body) <= 30, "the example stays short (%d lines of code)" % len(body))

    tmp = tempfile.mkdtemp(prefix="ecrup-embed-")
    server = Server("--repository", "embed/demo")
    try:
        layer = make_file(tmp, "layer.bin", 12 * MiB + 5, seed=3)
        digest = file_digest(layer)
        env = creds_env(server.url)
        r = subprocess.run([TOOL, "embed/demo", layer], env=env, capture_output=True, text=True,
                           timeout=120)
        check(r.returncode == 0, "push_one: exit 0 (got %d, %r)" % (r.returncode, r.stderr))
        check(r.stdout == "%s: uploaded %s\n" % (layer, digest),
              "push_one: reports the upload and the file's digest (%r)" % r.stdout)
        with open(layer, "rb") as f:
            check(server.blob(digest) == f.read(), "the server stored the layer's bytes")

        r = subprocess.run([TOOL, "embed/demo", layer], env=env, capture_output=True, text=True,
                           timeout=120)
        check(r.returncode == 0 and r.stdout == "%s: exists %s\n" % (layer, digest),
              "push_one again: exists (%d %r)" % (r.returncode, r.stdout))

        r = subprocess.run([TOOL, "no/such-repo", layer], env=env, capture_output=True,
                           text=True, timeout=120)
        check(r.returncode == 1 and r.stdout.startswith(layer + ": failed: "),
              "push_one to a missing repository: exit 1, a failed line (%d %r)"
              % (r.returncode, r.stdout))

        noregion = {k: v for k, v in env.items() if k != "AWS_REGION"}
        r = subprocess.run([TOOL, "embed/demo", layer], env=noregion,
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 1 and "region" in r.stderr,
              "push_one without a region: engine creation explains (%d %r)"
              % (r.returncode, r.stderr))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    finish("test_cli_embedding")


if __name__ == "__main__":
    main()

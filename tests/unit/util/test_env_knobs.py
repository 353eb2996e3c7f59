#!/usr/bin/env python3
"""The table of ECRUP_* environment variables (docs/environment.md) names exactly the variables
the tree reads, so it cannot go stale:
  - every ECRUP_* name read as an environment variable somewhere in the sources is in the table:
    a whole string literal "ECRUP_..." in C or Python (getenv, env_get, a *_ENV macro,
    os.environ, the environments tests hand to children), a keyword ECRUP_...= in Python
    (dict(env, ECRUP_SHA256="openssl")), $ECRUP_... or ${ECRUP_... in shell scripts;
  - every name in the table is found that way;
  - the library (engine/, io/, util/, signer/) never reads an ECRUP_* knob with getenv(3): it
    goes through env_get() (util/env.h).
Usage: test_env_knobs.py [SOURCE_DIR]   (default: $ECRUP_SOURCE_DIR)."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "support"))
from checks import check, finish  # noqa: E402

NAME = r"ECRUP_[A-Z0-9_]+"
LITERAL = re.compile(r"""["'](%s)["']""" % NAME)
PY_KEYWORD = re.compile(r"\b(%s)\s*=(?!=)" % NAME)
SHELL = re.compile(r"\$\{?(%s)" % NAME)
LIBRARY_GETENV = re.compile(r"""\bgetenv\s*\(\s*("ECRUP_|[A-Z0-9_]+_ENV\b)""")
TABLE_ROW = re.compile(r"^\|\s*`(%s)`\s*\|" % NAME)
SKIP_DIRS = {".git", "docs", "data", "corpus", "__pycache__"}
LIBRARY_DIRS = ("engine", "io", "util", "signer")


def is_shell(path):
    if path.endswith(".sh"):
        return True
    if os.path.splitext(path)[1]:
        return False
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except OSError:
        return False
    return first.startswith(b"#!") and (b"sh" in first.split(b"/")[-1])


def source_names(root):
    """{name: [files that read it]} over the tracked kinds of source file."""
    found = {}
    me = os.path.abspath(__file__)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build")]
        for fn in filenames:
            path = os.path.join(dirpath, fn)
            if os.path.abspath(path) == me:
                continue
            rel = os.path.normpath(os.path.join(rel_dir, fn))
            if fn.endswith((".c", ".h")):
                patterns = [LITERAL]
            elif fn.endswith(".py"):
                patterns = [LITERAL, PY_KEYWORD]
            elif is_shell(path):
                patterns = [SHELL]
            else:
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for pat in patterns:
                for m in pat.finditer(text):
                    found.setdefault(m.group(1), set()).add(rel)
            if fn.endswith((".c", ".h")) and rel.split(os.sep)[0] in LIBRARY_DIRS:
                for m in LIBRARY_GETENV.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    check(False, "%s:%d reads an ECRUP_* knob with getenv(3), not env_get()"
                          % (rel, line))
    return found


def table_names(root):
    names = []
    with open(os.path.join(root, "docs", "environment.md"), encoding="utf-8") as f:
        for line in f:
            m = TABLE_ROW.match(line)
            if m:
                names.append(m.group(1))
    return names


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ECRUP_SOURCE_DIR")
    if not root:
        print("usage: test_env_knobs.py SOURCE_DIR", file=sys.stderr)
        return 2
    found = source_names(root)
    table = table_names(root)
    check(len(table) == len(set(table)), "docs/environment.md lists a variable twice: %s"
          % sorted(n for n in set(table) if table.count(n) > 1))
    # The scan must see the knobs it exists for, or an empty result would pass.
    for known in ("ECRUP_IO_BACKEND", "ECRUP_BASE64_BACKEND", "ECRUP_SHA256", "ECRUP_REPOSITORY"):
        check(known in found, "the scan finds %s in the sources" % known)
    for name in sorted(found):
        check(name in table, "%s (read in %s) is in docs/environment.md's table"
              % (name, ", ".join(sorted(found[name]))))
    for name in table:
        check(name in found, "%s, listed in docs/environment.md, is read somewhere in the sources"
              % name)
    return finish("test_env_knobs")


if __name__ == "__main__":
    sys.exit(main())

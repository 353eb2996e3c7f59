#!/usr/bin/env python3
"""Compare ecrup's repository-name rule (util/ecr_name.c) with ECR's own: the RepositoryName
shape of the ECR service model botocore carries (its pattern, min and max).

Usage: ecr_name_vs_botocore.py ECR_NAME_TOOL ECRUP

The oracle is Python's re.fullmatch of the model's pattern plus the model's length bounds.
Checks:
  1. the tool's bounds equal the model's min and max;
  2. every name over a small alphabet ('a', '0', '.', '_', '-', '/', 'A') up to 5 characters,
     and over 'a', '.', '_', '-', '/' at 6 and 7, gets the oracle's verdict;
  3. names at and around the length bounds (1, 2, 255, 256, 257, 258), in several shapes;
  4. seeded random names (0..300 characters, separators, runs, uppercase, other bytes);
  5. the CLI: `ecrup upload-layer --repository NAME` refuses exactly the names the oracle
     refuses, naming the rule (a sample; nothing is sent: the layer file does not exist).
"""
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "support"))
from checks import check, finish  # noqa: E402

try:
    import botocore
except ImportError as e:
    print(f"SKIP: botocore not importable: {e}")
    sys.exit(77)


def model_shape():
    """The RepositoryName shape of the newest ECR model botocore has."""
    root = os.path.join(os.path.dirname(botocore.__file__), "data", "ecr")
    versions = sorted(v for v in os.listdir(root) if os.path.isdir(os.path.join(root, v)))
    for v in reversed(versions):
        for name, opener in (("service-2.json", open), ("service-2.json.gz", gzip.open)):
            path = os.path.join(root, v, name)
            if os.path.exists(path):
                with opener(path, "rt", encoding="utf-8") as f:
                    return path, json.load(f)["shapes"]["RepositoryName"]
    return None, None


def main():
    tool, ecrup = sys.argv[1], sys.argv[2]
    path, shape = model_shape()
    if not shape:
        print("SKIP: no ECR service model in botocore")
        return 77
    pattern = re.compile(shape["pattern"])
    lo, hi = shape["min"], shape["max"]
    print("model: %s\npattern: %s, %d..%d characters" % (path, shape["pattern"], lo, hi))

    def oracle(name):
        return lo <= len(name) <= hi and pattern.fullmatch(name) is not None

    out = subprocess.run([tool, "--bounds"], capture_output=True, text=True, check=True)
    check(out.stdout.split() == [str(lo), str(hi)],
          "bounds %s equal the model's %d %d" % (out.stdout.strip(), lo, hi))

    names = []
    small = "a0._-/A"
    level = [""]
    for _ in range(5):
        level = [s + c for s in level for c in small]
        names += level
    for n in (6, 7):
        level = [""]
        for _ in range(n):
            level = [s + c for s in level for c in "a._-/"]
        names += level

    shapes = ["a", "ab", "a.b", "a_b", "a__b", "a--b", "a/b", "a-b/c__d"]
    for length in (1, 2, 3, 255, 256, 257, 258):
        for shape_ in shapes:
            body = (shape_ * (length // len(shape_) + 1))[:length]
            for name in (body, body[:-1] + "a" if body else body, "a" * (length - 1) + "/",
                         "a/" + "b" * (length - 2) if length >= 2 else "a"):
                names.append(name[:length] if len(name) > length else name)

    rng = random.Random(20261207)
    pieces = ["a", "z", "0", "9", "abc", ".", "_", "__", "___", "-", "--", "---", "/", "//",
              "A", "Z", " ", ":", "+", "\\", "\t", "\u00e9", "\x7f"]
    weights = [8, 4, 4, 2, 6, 3, 3, 2, 1, 3, 2, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    for _ in range(20000):
        target = rng.choice([rng.randint(0, 12), rng.randint(0, 40), rng.randint(240, 300)])
        s = ""
        while len(s) < target:
            s += rng.choices(pieces, weights)[0]
        names.append(s)
    # Valid names built from the grammar itself, so acceptance is well covered too.
    seps = [".", "_", "__", "-", "--", "----"]
    for _ in range(5000):
        comps = []
        for _ in range(rng.randint(1, 4)):
            words = ["".join(rng.choice("abcxyz019") for _ in range(rng.randint(1, 6)))
                     for _ in range(rng.randint(1, 4))]
            comp = words[0]
            for w in words[1:]:
                comp += rng.choice(seps) + w
            comps.append(comp)
        names.append("/".join(comps))

    names = list(dict.fromkeys(names))
    data = "".join(n.encode("utf-8").hex() + "\n" for n in names)
    out = subprocess.run([tool], input=data, capture_output=True, text=True, check=True)
    verdicts = out.stdout.split()
    check(len(verdicts) == len(names), "one verdict per name (%d for %d)"
          % (len(verdicts), len(names)))
    disagree = [(n, v) for n, v in zip(names, verdicts) if (v == "1") != oracle(n)]
    for n, v in disagree[:20]:
        print("  %r: ecrup says %s, the model %s" % (n, "valid" if v == "1" else "invalid",
                                                     "valid" if oracle(n) else "invalid"))
    check(not disagree, "%d names, %d valid: ecrup agrees with the model on every one "
          "(%d disagree)" % (len(names), sum(map(oracle, names)), len(disagree)))

    cli_names = ["ab", "a__b", "a--b", "a---b", "team/app", "x.y_z__w-v--u/t", "a" * 256,
                 "a", "a___b", "a.-b", "a_-b", "-ab", "ab-", "/ab", "ab/", "a//b", "Ab",
                 "a" * 257, "a b"]
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, "missing.tar")
        env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL_ECR="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                   AWS_SECRET_ACCESS_KEY="secret")
        for name in cli_names:
            r = subprocess.run([ecrup, "upload-layer", "--repository", name, missing],
                               capture_output=True, text=True, env=env, timeout=60)
            refused = "is not a repository name" in r.stderr
            shown = name if len(name) < 20 else "%s... (%d)" % (name[:8], len(name))
            check(refused == (not oracle(name)),
                  "CLI %s %r (exit %d: %s)" % ("refuses" if not oracle(name) else "takes", shown,
                                               r.returncode, r.stderr.strip()[:200]))
            check(r.returncode != 0, "CLI exits non-zero for %r with no layer file" % shown)
            if refused:
                check("'__' or a run of '-'" in r.stderr, "CLI names the rule for %r" % shown)
    return finish("ecr_name_vs_botocore")


if __name__ == "__main__":
    sys.exit(main())

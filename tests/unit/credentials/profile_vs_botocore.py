#!/usr/bin/env python3
"""Differential test of the shared-file parser against botocore: generated config and
credentials files (comments, both delimiters, continuation lines, nested blocks, quoted
profile names, [DEFAULT], duplicates, stray lines) are read by botocore's Session.full_config
and by `cred_tool dump`; both must fail, or both must yield the same profiles, the same
[sso-session NAME] sections and the same [services NAME] sections.

usage: profile_vs_botocore.py PATH/TO/cred_tool [CASES]
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import botocore.exceptions
import botocore.session

TOOL = sys.argv[1]
CASES = int(sys.argv[2]) if len(sys.argv) > 2 else 200
rng = random.Random(20261126)

NAMES = ["default", "dev", "prod", "x", "a b", "Dev"]
KEYS = ["region", "Region", "output", "aws_access_key_id", "aws_secret_access_key",
        "endpoint_url", "s3", "credential_process", "k", "services"]
VALUES = ["us-east-1", "eu-west-1", "", "json", "local", "AKIDEXAMPLE", "a=b", "x:y", "v # not a comment",
          "v ; nor this", "wJalr/K7+MDENG", "'quoted'", "\"dq\"", "[bracket]", "  spaced  "]
WS = ["", " ", "  ", "\t", " \t "]


def header(is_config):
    name = rng.choice(NAMES)
    choice = rng.random()
    if choice < 0.45:
        if name == "default" and rng.random() < 0.5:
            return "[default]"
        quoted = f'"{name}"' if " " in name or rng.random() < 0.2 else name
        return f"[profile {quoted}]"
    if choice < 0.68:
        return f"[{name}]"
    if choice < 0.8:
        return rng.choice(["[services local]", "[services \"two words\"]", "[services a b]",
                           "[services]", "[servicesx y]", "[services  local ]",
                           "[services 'local']"])
    return rng.choice(["[DEFAULT]", "[sso-session corp]", "[profile]", "[profile a b]",
                       "[ profile x ]", "[profilex y]", "[profile 'single q']",
                       "[profile \"unterminated]", "[services s]", "[a]]",
                       "[sso-session \"two words\"]", "[sso-session a b]", "[sso-session]",
                       "[sso-sessionx y]", "[sso-session  corp ]"])


def option():
    key = rng.choice(KEYS)
    delim = rng.choice(["=", "=", ":"])
    return f"{rng.choice(WS[:2])}{key}{rng.choice(WS)}{delim}{rng.choice(WS)}{rng.choice(VALUES)}"


def body_lines(is_config, clean):
    """One file. `clean` files avoid what both parsers refuse (duplicate sections and keys,
    stray lines) so that most of them parse and their values get compared."""
    lines = [header(is_config)] if clean or rng.random() < 0.95 else []
    seen_headers, seen_keys = set(lines), set()
    for _ in range(rng.randint(0, 14)):
        r = rng.random()
        if r < 0.12:
            h = header(is_config)
            if clean and h in seen_headers:
                continue
            seen_headers.add(h)
            seen_keys = set()
            lines.append(h)
        elif r < 0.55:
            o = option()
            k = o.split("=")[0].split(":")[0].strip().lower()
            if clean and k in seen_keys:
                continue
            seen_keys.add(k)
            lines.append(o)
        elif r < 0.65:
            # a nested block
            k = rng.choice(["s3", "sub", "Nest", "sts", "Sso_Oidc", "ecr"])
            if clean and k.lower() in seen_keys:
                continue
            seen_keys.add(k.lower())
            lines.append(f"{k} =")
            for _ in range(rng.randint(0, 3)):
                lines.append(f"{rng.choice(WS[1:])}"
                             f"{rng.choice(['a', 'b', 'Mixed', 'endpoint_url', 'Endpoint_URL'])}"
                             f"{rng.choice(WS)}={rng.choice(WS)}{rng.choice(VALUES)}")
                if rng.random() < 0.2:
                    lines.append(rng.choice(["", "  # inner comment", "   "]))
        elif r < 0.72:
            lines.append(f"{rng.choice(WS[1:])}{rng.choice(VALUES)}")  # continuation
        elif r < 0.82:
            lines.append(rng.choice(["# comment", "; comment", "   # indented comment",
                                     "#[profile fake]"]))
        elif r < 0.92 or clean:
            lines.append(rng.choice(["", "   ", "\t"]))
        else:
            lines.append(rng.choice(["stray words", " = nameless", "[", "]"]))
    eol = rng.choice(["\n", "\n", "\r\n"])
    return eol.join(lines) + (eol if rng.random() < 0.8 else "")


def botocore_view(cfg, cred):
    os.environ["AWS_CONFIG_FILE"] = cfg
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = cred
    try:
        full = botocore.session.Session().full_config
        return {"profiles": full["profiles"], "sso_sessions": full["sso_sessions"],
                "services": full["services"]}
    except (botocore.exceptions.ConfigParseError, UnicodeDecodeError) as e:
        return {"error": str(e)}


def ours(cfg, cred):
    p = subprocess.run([TOOL, "dump", cfg, cred], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise SystemExit(f"cred_tool failed: {p.stderr}")
    return json.loads(p.stdout)


for k in list(os.environ):
    if k.startswith("AWS_"):
        del os.environ[k]
failures = agreed_ok = agreed_err = with_services = 0
with tempfile.TemporaryDirectory() as tmp:
    cfg = os.path.join(tmp, "config")
    cred = os.path.join(tmp, "credentials")
    for case in range(CASES):
        clean = case % 3 != 0
        texts = [body_lines(True, clean), body_lines(False, clean)]
        for path, text in zip((cfg, cred), texts):
            with open(path, "w", newline="") as f:
                f.write(text)
        want = botocore_view(cfg, cred)
        got = ours(cfg, cred)
        if ("error" in want) != ("error" in got) or \
                ("profiles" in want and any(want[k] != got[k] for k in
                                            ("profiles", "sso_sessions", "services"))):
            failures += 1
            if failures <= 5:
                print(f"--- case {case} differs\nconfig:\n{texts[0]!r}\ncredentials:\n"
                      f"{texts[1]!r}\nbotocore: {want}\necrup:    {got}", file=sys.stderr)
        elif "error" in want:
            agreed_err += 1
        else:
            agreed_ok += 1
            with_services += any(want["services"].values())

print(f"profile_vs_botocore: {agreed_ok} parsed alike ({with_services} with a services "
      f"section that has settings), {agreed_err} refused alike, {failures} differ")
# Both kinds must be exercised for the comparison to mean something.
if agreed_ok < CASES // 5 or agreed_err < CASES // 20 or with_services < CASES // 40:
    print("too few cases of one kind: the generator needs tuning", file=sys.stderr)
    sys.exit(1)
print(f"{agreed_ok + agreed_err} passed, {failures} failed")
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""Differential test of the credential chain against botocore: generated config and
credentials files (tests/integ/sts/chain_cases.py: static keys, credential_process, web
identity, SSO in both forms, and assume-role profiles over each of them, chained 1 to 3 deep,
with credential_source = Environment, external_id, role_session_name, duration_seconds, a
region or not, a profile that sources itself, and what botocore refuses) are resolved by
`cred_tool resolve` and by botocore, both pointed at the same loopback STS and IAM Identity
Center emulators through AWS_ENDPOINT_URL_STS / _SSO / _SSO_OIDC. For every case:

- both end with the same key pair (the id, the secret and the token compared as SHA-256), or
  both fail: botocore's exception class gives the status ecrup must return, and a refused
  configuration must be named in ecrup's message by one of the profiles at fault;
- both make the same STS calls (action, role ARN, external id, session name, duration, serial
  number, the key id and the region that signed) and the same portal calls (account, role,
  token hash), in the same order. A session name neither was given is a time-based default,
  compared by shape: ecrup-session-<unix> against botocore-session-<unix>.

The known differences (docs/credentials.md, "Tested against botocore") are encoded where they
arise: botocore's NoRegionError, a duration_seconds that is not a number, a lone
aws_secret_access_key, a value botocore checks before sending. The STS emulator is reset with
the case's seed before each side resolves, so the pairs it issues are the same for the same
calls. Each case has its own HOME and files; secrets are never printed (a failing case's
files are shown with every secret replaced by ****). A table of case kinds says which agree.

usage: chain_vs_botocore.py PATH/TO/cred_tool [--cases N] [--seed S] [--only CASE]
Replay a failure with the seed and case number it printed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "support"))
import chain_cases  # noqa: E402
from chain_cases import sha  # noqa: E402
from sso_emulator import SsoEmulator  # noqa: E402
from sts_emulator import StsEmulator  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("tool")
ap.add_argument("--cases", type=int, default=int(os.environ.get("ECRUP_DIFF_CASES", "330")))
ap.add_argument("--seed", default=os.environ.get("ECRUP_DIFF_SEED", "20261207"))
ap.add_argument("--only", type=int, default=None)
args = ap.parse_args()

# ---- botocore, in this process (a process per case would cost ~0.5 s of imports each) ----
import botocore.credentials  # noqa: E402
import botocore.exceptions  # noqa: E402
import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402
import botocore.tokens  # noqa: E402

LOADER = botocore.loaders.create_loader()  # the parsed service models, shared by every case
ST_NO_CREDENTIALS, ST_CREDENTIALS, ST_CONFIG, ST_NOT_FOUND = 5, 6, 7, 25
# botocore's exception -> the status ecrup returns for the same mistake, and whether it is a
# refused configuration, whose message must name a profile at fault. ecrup answers
# ECRUP_E_CONFIG for what the files say wrongly (a cycle, a missing source profile, role_arn
# without a source, two sources, an unknown credential_source) and ECRUP_E_CREDENTIALS when a
# well-formed source yields no credentials, where botocore raises InvalidConfigError for both.
EXPECTED = {
    "InfiniteLoopConfigError": ({ST_CONFIG}, True),
    "InvalidConfigError": ({ST_CONFIG}, True),
    "PartialCredentialsError": ({ST_CONFIG}, True),
    "CredentialRetrievalError": ({ST_CREDENTIALS}, True),
    "ProfileNotFound": ({ST_NOT_FOUND}, True),
    "ClientError": ({ST_CREDENTIALS}, False),
    # a value out of STS's range that botocore checks before sending: ecrup refuses it
    # reading the profile, or sends it and STS refuses it
    "ParamValidationError": ({ST_CONFIG, ST_CREDENTIALS}, False),
    "UnauthorizedSSOTokenError": ({ST_CREDENTIALS}, False),
    "SSOTokenLoadError": ({ST_CREDENTIALS}, False),
}


def expected_failure(theirs):
    if theirs["error"] == "InvalidConfigError" and "must have credentials" in theirs["message"]:
        return {ST_CREDENTIALS}, True
    if theirs["error"] == "PartialCredentialsError" and \
            "source_profile or credential_source" not in theirs["message"]:
        return {ST_CREDENTIALS}, True  # half a key pair (docs/credentials.md)
    return EXPECTED.get(theirs["error"], ({ST_CREDENTIALS}, False))


def botocore_resolve(case, env):
    os.environ.clear()
    os.environ.update(env)
    # botocore computes its SSO token cache directory from HOME once, when it is imported.
    cache = os.path.join(case.home, ".aws", "sso", "cache")
    botocore.credentials.SSOProvider._SSO_TOKEN_CACHE_DIR = cache
    botocore.tokens.SSOTokenProvider._SSO_TOKEN_CACHE_DIR = cache
    try:
        s = botocore.session.Session(profile=case.profile_arg)
        s.register_component("data_loader", LOADER)
        c = s.get_credentials()
        if c is None:
            return {"none": True}
        f = c.get_frozen_credentials()
        return {"akid": f.access_key, "secret_sha256": sha(f.secret_key),
                "token_sha256": sha(f.token) if f.token else "none"}
    except Exception as e:  # noqa: BLE001 - the class is what the comparison is about
        return {"error": type(e).__name__, "message": str(e)}


def ecrup_resolve(case, env):
    argv = [args.tool, "resolve"] + ([case.profile_arg] if case.profile_arg else [])
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    fields = {"rc": p.returncode, "output": p.stdout + p.stderr}
    for line in p.stdout.splitlines():
        if line.startswith("error="):
            fields["error"] = line[len("error="):]
        else:
            for kv in line.split():
                k, _, v = kv.partition("=")
                fields.setdefault(k, v)
    return fields


DEFAULT_SESSION = {"ecrup": re.compile(r"^ecrup-session-(\d+)$"),
                   "botocore": re.compile(r"^botocore-session-(\d+)$")}


def sts_calls(who, started):
    """The STS calls since the last reset, a default session name replaced by <default>
    once its shape and time are checked (a wrong shape stays as it is and so differs)."""
    out = []
    for c in STS.calls:
        c = {k: c[k] for k in ("action", "role_arn", "session_name", "external_id", "duration",
                               "serial", "signed_by", "region")}
        m = DEFAULT_SESSION[who].match(c["session_name"] or "")
        if m and started - 5 <= int(m.group(1)) <= time.time() + 5:
            c["session_name"] = "<default>"
        out.append(c)
    return out


def compare(case):
    """One case on both sides: a list of what differs (empty when they agree)."""
    env = dict(BASE_ENV, HOME=case.home,
               AWS_CONFIG_FILE=os.path.join(case.home, ".aws", "config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(case.home, ".aws", "credentials"),
               AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL_STS=STS.url,
               AWS_ENDPOINT_URL_SSO=SSO.url, AWS_ENDPOINT_URL_SSO_OIDC=SSO.url, **case.env)
    runs = {}
    for who, fn in (("ecrup", ecrup_resolve), ("botocore", botocore_resolve)):
        for attempt_env in (env, dict(env, AWS_DEFAULT_REGION="us-east-1")):
            STS.reset("%s/%d" % (args.seed, case.n))
            sso_before = len(SSO.calls)
            started = int(time.time())
            got = fn(case, attempt_env)
            # botocore refuses to create the STS client for AssumeRole without any region
            # where ecrup signs for us-east-1 (the global endpoint, docs/credentials.md):
            # botocore's answer for that region is the one to compare with.
            if got.get("error") != "NoRegionError":
                break
            case.region_retry = True
        runs[who] = (got, sts_calls(who, started), SSO.calls[sso_before:],
                     [x for pair in STS.issued for x in pair[1:]])
    (ours, our_sts, our_sso, issued), (theirs, their_sts, their_sso, issued2) = \
        runs["ecrup"], runs["botocore"]
    diffs = []
    if case.deliberate:
        profile, words, status = case.deliberate
        msg = ours.get("error", "")
        if ours.get("status") != str(status) or profile not in msg or words not in msg:
            diffs.append("ecrup must refuse profile %s naming %s (status %d): %s" %
                         (profile, words, status, describe(ours)))
        case.outcome = "deliberate"
        return diffs
    if "error" in theirs:
        statuses, config_error = expected_failure(theirs)
        msg = ours.get("error", "")
        if ours["rc"] == 0 or ours.get("status") not in {str(s) for s in statuses}:
            diffs.append("botocore raised %s (%s); ecrup must fail with status %s, got %s" %
                         (theirs["error"], theirs["message"], "/".join(map(str, statuses)),
                          describe(ours)))
        elif config_error:
            blame = case.blame | {n for n in case.profiles if n in theirs["message"]}
            if not any(n in msg for n in blame):
                diffs.append("botocore raised %s (%s); ecrup's message names none of %s: %s"
                             % (theirs["error"], theirs["message"], sorted(blame), msg))
    elif "none" in theirs:
        if ours.get("status") != str(ST_NO_CREDENTIALS):
            diffs.append("botocore found no credentials; ecrup: %s" % describe(ours))
    elif ours["rc"] != 0 or any(ours.get(k) != theirs[k] for k in theirs):
        diffs.append("botocore resolved %s; ecrup: %s" % (theirs["akid"], describe(ours)))
    if theirs.get("error") == "ParamValidationError":
        # botocore checks a value's range before sending; ecrup may refuse it earlier (while
        # reading the profile) or send it and have STS refuse it: up to that point the
        # calls must be the same.
        refused = our_sts[len(their_sts):]
        if our_sts[:len(their_sts)] == their_sts and len(refused) == 1:
            our_sts = our_sts[:len(their_sts)]
        elif their_sts[:len(our_sts)] == our_sts:
            their_sts = our_sts
    if our_sts != their_sts:
        diffs.append("STS calls differ:\n  ecrup:    %s\n  botocore: %s" % (our_sts, their_sts))
    if our_sso != their_sso:
        diffs.append("portal calls differ:\n  ecrup:    %s\n  botocore: %s" % (our_sso, their_sso))
    case.secrets += issued + issued2
    leaked = [s for s in case.secrets if s and s in ours["output"]]
    if leaked:
        diffs.append("ecrup's output holds %d secret(s)" % len(leaked))
    case.outcome = "refused" if "error" in theirs else "none" if "none" in theirs else "resolved"
    return diffs


def describe(ours):
    if ours["rc"] == 0:
        return "provider=%s akid=%s" % (ours.get("provider"), ours.get("akid"))
    return "status=%s error=%s" % (ours.get("status"), ours.get("error"))


# ---- run ----
BASE_ENV = {k: v for k, v in os.environ.items()
            if not k.startswith("AWS_") and "proxy" not in k.lower()}
ROOT = tempfile.mkdtemp(prefix="ecrup-chain-diff-")
STS = StsEmulator(web_token=chain_cases.WEB_TOKEN, validate=True)
SSO = SsoEmulator()
print("chain_vs_botocore: seed %s, %d cases (replay one: --seed %s --only N)" %
      (args.seed, args.cases, args.seed))
per_kind = {}  # kind -> [passed, failed]
outcomes = {}
failures = region_retries = 0
t0 = time.time()
try:
    numbers = [args.only] if args.only is not None else range(args.cases)
    for n in numbers:
        case = chain_cases.generate(n, args.seed, ROOT, STS, SSO)
        diffs = compare(case)
        tally = per_kind.setdefault(case.kind, [0, 0])
        tally[1 if diffs else 0] += 1
        outcomes[case.outcome] = outcomes.get(case.outcome, 0) + 1
        region_retries += case.region_retry
        if diffs:
            failures += 1
            if failures <= 8 or args.only is not None:
                print("--- case %d (%s) differs; profile %s\n%s\n%s" %
                      (n, case.kind, case.how(), case.show(), case.redact("\n".join(diffs))))
finally:
    STS.stop()
    SSO.stop()
    shutil.rmtree(ROOT, ignore_errors=True)

print("\n%-34s %6s %6s" % ("case kind", "agree", "differ"))
for kind in sorted(per_kind):
    print("%-34s %6d %6d" % (kind, per_kind[kind][0], per_kind[kind][1]))
print("outcomes (botocore's): %s; botocore asked again with a region: %d; %.1f s" %
      (json.dumps(outcomes, sort_keys=True), region_retries, time.time() - t0))
total = sum(a + b for a, b in per_kind.values())
print("%d passed, %d failed" % (total - failures, failures))
if args.only is None and (outcomes.get("resolved", 0) < total // 3 or
                          outcomes.get("refused", 0) < total // 10):
    print("too few cases of one outcome: the generator needs tuning")
    sys.exit(1)
sys.exit(1 if failures else 0)

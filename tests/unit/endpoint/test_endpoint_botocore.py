#!/usr/bin/env python3
"""Compare ecrup's region and endpoint resolution with botocore's.

Usage: test_endpoint_botocore.py ENDPOINT_TOOL

The oracle is the URL botocore actually sends a request to: a before-send hook captures it
and aborts, so nothing touches the network. (client.meta.endpoint_url is not used as the
oracle: it comes from botocore's legacy endpoints.json and says ecr-fips.REGION.amazonaws.com
where the ruleset, which botocore follows for requests, says api.ecr-fips.REGION...; the
number of such cases is printed for information.)

Checks:
  1. the partition table in signer/endpoint.c equals botocore's partitions.json, and the ECR
     ruleset names exactly the partitions the table marks, with the templates it encodes;
  2. regions across every partition x {plain, FIPS, dual-stack, both}: same URL, same
     signing region, same Host value;
  3. FIPS / dual-stack from the environment and the profile, boolean spellings;
  4. configured endpoints: AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the profile's services
     section and endpoint_url, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, region from
     AWS_DEFAULT_REGION and the profile;
  5. errors: where botocore refuses (bad region, no region, malformed endpoint), ecrup does;
  6. URL parsing: every URL ecrup accepts, botocore accepts with the same Host value.
"""
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import boto3
    import botocore
    import botocore.auth
    import botocore.config
    import botocore.regions
    import botocore.utils
except ImportError as e:  # the machine's python has them; say so if it does not
    print(f"SKIP: botocore not importable: {e}")
    sys.exit(77)

TOOL = sys.argv[1]
BOTOCORE_DIR = os.path.dirname(botocore.__file__)
TMP = tempfile.mkdtemp(prefix="ecrup-endpoint-")
NO_FILE = os.path.join(TMP, "absent")

E_INVALID_ARGUMENT, E_NO_REGION, E_ENDPOINT = 1, 8, 9

failures = []
compared = 0
meta_differs = 0


def fail(what):
    failures.append(what)
    print("FAIL:", what)


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = NO_FILE
    env["AWS_SHARED_CREDENTIALS_FILE"] = NO_FILE
    env.update(extra or {})
    return env


def run_tool(args, env_extra=None):
    p = subprocess.run([TOOL] + args, env=clean_env(env_extra), capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"endpoint_tool {args} exited {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)


_shared_session = None


class _Stop(Exception):
    pass


def botocore_resolve(region, fips=None, dualstack=None, env_extra=None, config_text=None,
                     profile=None):
    """('ok', url, region) for the request botocore would send, or ('error', type, text)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env(env_extra))
    os.environ["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    if config_text is not None:
        path = os.path.join(TMP, "config")
        with open(path, "w") as f:
            f.write(config_text)
        os.environ["AWS_CONFIG_FILE"] = path
    if profile:
        os.environ["AWS_PROFILE"] = profile
    seen = {}

    def hook(request, **_):
        seen["url"] = request.url
        raise _Stop()

    try:
        cfg = botocore.config.Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack,
                                     retries={"max_attempts": 0})
        global _shared_session
        if env_extra is None and config_text is None and profile is None:
            # The environment is the same clean one every time: one session serves all.
            if _shared_session is None:
                _shared_session = boto3.session.Session()
            session = _shared_session
        else:
            session = boto3.session.Session()
        client = session.client("ecr", region_name=region, config=cfg)
        client.meta.events.register("before-send", hook)
        try:
            client.describe_registry()
        except _Stop:
            pass
        if "url" not in seen:
            return ("error", "NoRequest", "no request was built")
        global meta_differs
        if client.meta.endpoint_url.rstrip("/") != seen["url"].rstrip("/"):
            meta_differs += 1
        return ("ok", seen["url"], client.meta.region_name)
    except Exception as e:  # botocore's refusals are the thing compared
        return ("error", type(e).__name__, str(e))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def normalised(url):
    """What ecrup's base_url is for a URL botocore sends to: scheme://Host-value/path."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{botocore.auth._host_from_url(url)}{parts.path or '/'}"


def compare(label, ours, theirs, want_error_code=None):
    """One comparison of an endpoint_tool outcome with a botocore outcome."""
    global compared
    compared += 1
    if theirs[0] == "error":
        if ours["status"] != "error":
            fail(f"{label}: botocore refuses ({theirs[1]}: {theirs[2]}) but ecrup resolved "
                 f"{ours.get('base_url')}")
        elif want_error_code is not None and ours["code"] != want_error_code:
            fail(f"{label}: ecrup refused with code {ours['code']}, expected {want_error_code}: "
                 f"{ours['message']}")
        elif not ours["message"]:
            fail(f"{label}: ecrup refused without a message")
        return
    if ours["status"] != "ok":
        fail(f"{label}: botocore resolves {theirs[1]} but ecrup refused: {ours['message']}")
        return
    _, url, region = theirs
    if ours["base_url"] != normalised(url):
        fail(f"{label}: ecrup {ours['base_url']} vs botocore {url}")
    if ours["partition"] is not None and ours["url"] + "/" != url:
        fail(f"{label}: computed URL {ours['url']} vs botocore {url}")
    if ours["host_header"] != botocore.auth._host_from_url(url):
        fail(f"{label}: Host {ours['host_header']} vs botocore "
             f"{botocore.auth._host_from_url(url)}")
    if ours["region"] != region:
        fail(f"{label}: signing region {ours['region']} vs botocore {region}")


def onoff(b):
    return "on" if b else "off"


# ---- 1. The tables ---------------------------------------------------------------------------

def check_tables():
    with open(os.path.join(BOTOCORE_DIR, "data", "partitions.json")) as f:
        theirs = json.load(f)["partitions"]
    ours = run_tool(["--partitions"])
    if [p["id"] for p in theirs] != [p["name"] for p in ours]:
        fail(f"partition order: botocore {[p['id'] for p in theirs]} vs "
             f"ecrup {[p['name'] for p in ours]}")
    for t, o in zip(theirs, ours):
        out = t["outputs"]
        for key_t, key_o in (("dnsSuffix", "dnsSuffix"),
                             ("dualStackDnsSuffix", "dualStackDnsSuffix"),
                             ("supportsFIPS", "supportsFIPS"),
                             ("supportsDualStack", "supportsDualStack")):
            if out[key_t] != o[key_o]:
                fail(f"partition {t['id']} {key_t}: botocore {out[key_t]} vs ecrup {o[key_o]}")
        if t["regionRegex"] != o["regionRegex"]:
            fail(f"partition {t['id']} regex: botocore {t['regionRegex']} vs "
                 f"ecrup {o['regionRegex']}")
        if sorted(t["regions"]) != sorted(o["regions"]):
            fail(f"partition {t['id']} regions: botocore {sorted(t['regions'])} vs "
                 f"ecrup {sorted(o['regions'])}")

    # The ruleset: which partitions have their own rules, and their URL templates.
    rs = json.load(gzip.open(os.path.join(BOTOCORE_DIR, "data", "ecr", "2015-09-21",
                                          "endpoint-rule-set-1.json.gz")))
    named = {}

    def walk(rules):
        for r in rules:
            name = None
            flags = {}
            for c in r.get("conditions", []):
                argv = c.get("argv", [])
                if (c.get("fn") == "stringEquals" and isinstance(argv[0], dict)
                        and argv[0].get("fn") == "getAttr" and argv[0]["argv"][1] == "name"):
                    name = argv[1]
                if (c.get("fn") == "booleanEquals" and isinstance(argv[0], dict)
                        and argv[0].get("ref") in ("UseFIPS", "UseDualStack")):
                    flags[argv[0]["ref"]] = argv[1]
            if name and r["type"] == "endpoint":
                named.setdefault(name, {})[(flags["UseFIPS"], flags["UseDualStack"])] = \
                    r["endpoint"]["url"]
            if r["type"] == "tree":
                walk(r["rules"])

    walk(rs["rules"])
    expected = {
        (False, False): "https://api.ecr.{Region}.{PartitionResult#dnsSuffix}",
        (False, True): "https://ecr.{Region}.{PartitionResult#dualStackDnsSuffix}",
        (True, False): "https://api.ecr-fips.{Region}.{PartitionResult#dnsSuffix}",
        (True, True): "https://ecr-fips.{Region}.{PartitionResult#dualStackDnsSuffix}",
    }
    # botocore builds the client through its legacy endpoints.json first; where that models
    # no dual-stack variant for a partition (and does not skip the partition), it refuses.
    with open(os.path.join(BOTOCORE_DIR, "data", "endpoints.json")) as f:
        legacy = json.load(f)["partitions"]
    skipped = set(botocore.regions.EndpointResolver._UNSUPPORTED_DUALSTACK_PARTITIONS)
    refusing = set()
    for lp in legacy:
        svc = lp["services"].get("api.ecr", {})
        tagsets = [set(v["tags"]) for v in lp.get("defaults", {}).get("variants", [])]
        tagsets += [set(v["tags"]) for v in svc.get("defaults", {}).get("variants", [])]
        if lp["partition"] not in skipped and {"dualstack"} not in tagsets:
            refusing.add(lp["partition"])
            # ecrup refuses regions matching the regex: that must be exactly what the legacy
            # data matches (its region list adds nothing the regex does not match).
            for r in lp.get("regions", {}):
                if not re.match(lp["regionRegex"], r):
                    fail(f"endpoints.json lists {r} in {lp['partition']} outside its regex")
    ours_refusing = {p["name"] for p in ours if p["refusesDualStack"]}
    if refusing != ours_refusing:
        fail(f"botocore refuses dual-stack in {sorted(refusing)}, ecrup in "
             f"{sorted(ours_refusing)}")
    ours_named = {p["name"] for p in ours if p["ecrNamed"]}
    if set(named) != ours_named:
        fail(f"ECR ruleset names partitions {sorted(named)}, ecrup marks {sorted(ours_named)}")
    for name, templates in named.items():
        if templates != expected:
            fail(f"ECR ruleset templates for {name} changed: {templates}")
    print(f"tables: {len(ours)} partitions, {len(named)} named by the ECR ruleset: consistent")


# ---- 2. Regions x variants -------------------------------------------------------------------

SPREAD = [
    "us-east-1", "us-west-2", "eu-west-3", "ap-southeast-5", "ap-east-2", "mx-central-1",
    "il-central-1", "ca-west-1", "me-central-1", "af-south-1", "sa-east-1",
    "eu-central-9",  # made up, matches the aws regex
    "cn-north-1", "cn-northwest-1",
    "cn-south-5",  # made up, matches the aws-cn regex
    "us-gov-west-1", "us-gov-east-1",
    "us-gov-north-7",  # made up, aws-us-gov regex
    "us-iso-east-1", "us-iso-west-1", "us-isob-east-1", "us-isob-north-2",
    "eu-isoe-west-1", "us-isof-south-1", "us-isof-east-1", "eusc-de-east-1", "eusc-de-west-3",
    "xx-foo-1",  # no partition claims it: botocore falls back to aws
    "mars",  # likewise
    "aws-global", "aws-us-gov-global", "aws-cn-global",
    "US-EAST-1",  # case is kept, and the partition regexes are case-sensitive
    "us-east-1-fips", "fips-us-gov-west-1", "fips-cn-north-1",  # FIPS pseudo-regions
]


def check_regions():
    n = 0
    for region in SPREAD:
        for fips in (False, True):
            for ds in (False, True):
                ours = run_tool(["--region", region, "--fips", onoff(fips),
                                 "--dualstack", onoff(ds)])
                theirs = botocore_resolve(region, fips, ds)
                compare(f"{region} fips={fips} dualstack={ds}", ours, theirs)
                n += 1
    # Every region botocore lists, plain and FIPS + dual-stack.
    with open(os.path.join(BOTOCORE_DIR, "data", "partitions.json")) as f:
        listed = [r for p in json.load(f)["partitions"] for r in p["regions"]]
    for region in listed:
        for fips, ds in ((False, False), (True, True)):
            ours = run_tool(["--region", region, "--fips", onoff(fips), "--dualstack", onoff(ds)])
            compare(f"{region} fips={fips} dualstack={ds}", ours,
                    botocore_resolve(region, fips, ds))
            n += 1
    print(f"regions x variants: {n} comparisons")


# ---- 3. FIPS / dual-stack from the environment and the profile -------------------------------

def check_variant_sources():
    n = 0
    for value in ("true", "TRUE", "True", "false", "yes", "1", ""):
        for var in ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"):
            for region in ("eu-west-3", "cn-northwest-1", "us-gov-east-1"):
                env = {var: value}
                compare(f"{region} {var}={value!r}", run_tool(["--region", region], env),
                        botocore_resolve(region, env_extra=env))
                n += 1
    # The profile's settings, and the environment over the profile.
    for fips_p, ds_p, env in (("true", "false", {}), ("True", "TRUE", {}),
                              ("true", "true", {"AWS_USE_FIPS_ENDPOINT": "false"}),
                              ("false", "false", {"AWS_USE_DUALSTACK_ENDPOINT": "true"})):
        config = (f"[default]\nuse_fips_endpoint = {fips_p}\n"
                  f"use_dualstack_endpoint = {ds_p}\n")
        ours = run_tool(["--region", "us-west-2", "--profile-use-fips", fips_p,
                         "--profile-use-dualstack", ds_p], env)
        compare(f"profile fips={fips_p} dualstack={ds_p} env={env}", ours,
                botocore_resolve("us-west-2", env_extra=env, config_text=config))
        n += 1
    # Explicit settings over the environment.
    for fips in (False, True):
        env = {"AWS_USE_FIPS_ENDPOINT": "true" if not fips else "false"}
        compare(f"explicit fips={fips} over {env}",
                run_tool(["--region", "us-east-2", "--fips", onoff(fips)], env),
                botocore_resolve("us-east-2", fips=fips, env_extra=env))
        n += 1
    print(f"FIPS / dual-stack sources: {n} comparisons")


# ---- 4. Configured endpoints and the region's sources ----------------------------------------

def check_configured():
    n = 0
    cases = [
        # (environment, profile dict or None, expected source)
        ({"AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:5000"}, None, "AWS_ENDPOINT_URL_ECR"),
        ({"AWS_ENDPOINT_URL": "http://localhost:8080/base/"}, None, "AWS_ENDPOINT_URL"),
        ({"AWS_ENDPOINT_URL_ECR": "http://ecr.local:81", "AWS_ENDPOINT_URL": "http://g.local"},
         None, "AWS_ENDPOINT_URL_ECR"),
        ({"AWS_ENDPOINT_URL_ECR": "", "AWS_ENDPOINT_URL": "http://g.local:82"}, None,
         "AWS_ENDPOINT_URL"),
        ({"AWS_ENDPOINT_URL": "https://[::1]:8443/"}, None, "AWS_ENDPOINT_URL"),
        ({"AWS_ENDPOINT_URL": "https://[::1]:443/"}, None, "AWS_ENDPOINT_URL"),
        ({"AWS_ENDPOINT_URL": "HTTP://LocalHost:80/"}, None, "AWS_ENDPOINT_URL"),
        # FIPS and dual-stack do not apply to a configured endpoint.
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_USE_FIPS_ENDPOINT": "true",
          "AWS_USE_DUALSTACK_ENDPOINT": "true"}, None, "AWS_ENDPOINT_URL"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS":
          "true"}, None, "partition aws"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS":
          "nope"}, None, "AWS_ENDPOINT_URL"),
        # The profile.
        ({}, {"endpoint_url": "http://prof.local:7000"}, 'endpoint_url in profile "default"'),
        ({}, {"endpoint_url": "http://prof.local:7000", "services_ecr": "http://svc.local:7001"},
         'services "local" ecr endpoint_url in profile "default"'),
        ({"AWS_ENDPOINT_URL": "http://env.local:7002"},
         {"endpoint_url": "http://prof.local:7000", "services_ecr": "http://svc.local:7001"},
         "AWS_ENDPOINT_URL"),
        ({}, {"endpoint_url": "http://prof.local:7000", "ignore": "true"}, "partition aws"),
        # `services` naming no section: refused once the lookup reaches it, not before.
        ({}, {"endpoint_url": "http://prof.local:7000", "services_missing": True}, None),
        ({"AWS_ENDPOINT_URL_ECR": "http://ecr.local:81"},
         {"endpoint_url": "http://prof.local:7000", "services_missing": True},
         "AWS_ENDPOINT_URL_ECR"),
        ({"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"},
         {"endpoint_url": "http://prof.local:7000", "ignore": "true"},
         'endpoint_url in profile "default"'),
    ]
    for env, prof, want_source in cases:
        args = ["--region", "eu-west-1"]
        config = "[default]\n"
        if prof:
            if "endpoint_url" in prof:
                args += ["--profile-endpoint-url", prof["endpoint_url"]]
                config += f"endpoint_url = {prof['endpoint_url']}\n"
            if "ignore" in prof:
                args += ["--profile-ignore-configured", prof["ignore"]]
                config += f"ignore_configured_endpoint_urls = {prof['ignore']}\n"
            if "services_ecr" in prof:
                args += ["--profile-services", "local", "--profile-services-found", "true",
                         "--profile-services-endpoint-url", prof["services_ecr"]]
                config += ("services = local\n\n[services local]\necr =\n"
                           f"  endpoint_url = {prof['services_ecr']}\n")
            if "services_missing" in prof:
                args += ["--profile-services", "local", "--profile-services-found", "false"]
                config += "services = local\n"
        ours = run_tool(args, env)
        label = f"configured env={env} profile={prof}"
        compare(label, ours, botocore_resolve("eu-west-1", env_extra=env, config_text=config))
        if want_source is None and ours["status"] == "ok":
            fail(f"{label}: resolved {ours['base_url']}, expected a refusal")
        if ours["status"] == "ok" and ours["endpoint_source"] != want_source:
            fail(f"{label}: source {ours['endpoint_source']}, expected {want_source}")
        n += 1

    # Region sources botocore reads: AWS_DEFAULT_REGION over the profile's region. (botocore
    # does not read AWS_REGION; ecrup reads it first, like the AWS CLI v2 and the other SDKs,
    # which test_endpoint covers.)
    for env, prof_region, want_source in (
            ({"AWS_DEFAULT_REGION": "ap-south-2"}, "ca-central-1", "AWS_DEFAULT_REGION"),
            ({}, "ca-central-1", "profile dev"),
            ({"AWS_DEFAULT_REGION": "us-gov-east-1"}, None, "AWS_DEFAULT_REGION")):
        args = ["--profile-name", "dev"]
        config = "[profile dev]\n"
        if prof_region:
            args += ["--profile-region", prof_region]
            config += f"region = {prof_region}\n"
        ours = run_tool(args, env)
        label = f"region env={env} profile={prof_region}"
        compare(label, ours, botocore_resolve(None, env_extra=env, config_text=config,
                                              profile="dev"))
        if ours["status"] == "ok" and ours["region_source"] != want_source:
            fail(f"{label}: source {ours['region_source']}, expected {want_source}")
        n += 1
    # A deliberate difference: an empty AWS_DEFAULT_REGION is unset for ecrup, while botocore
    # takes the empty string and fails on "api.ecr..amazonaws.com".
    ours = run_tool(["--profile-name", "dev", "--profile-region", "cn-north-1"],
                    {"AWS_DEFAULT_REGION": ""})
    if ours["status"] != "ok" or ours["region_source"] != "profile dev":
        fail(f"empty AWS_DEFAULT_REGION should fall through to the profile: {ours}")
    print(f"configured endpoints and region sources: {n} comparisons")


# ---- 5. Refusals -----------------------------------------------------------------------------

def check_errors():
    n = 0
    for region in ("us_east_1", "-us-east-1", "us-east-1-", "123", "a" * 64, "us east 1",
                   "us.east.1", "fips-", "-fips", "eu-west-1/"):
        compare(f"bad region {region!r}", run_tool(["--region", region]),
                botocore_resolve(region), want_error_code=E_INVALID_ARGUMENT)
        n += 1
    compare("no region", run_tool([]), botocore_resolve(None), want_error_code=E_NO_REGION)
    compare("empty AWS_DEFAULT_REGION", run_tool([], {"AWS_DEFAULT_REGION": ""}),
            botocore_resolve(None, env_extra={"AWS_DEFAULT_REGION": ""}))
    n += 2
    for url in ("localhost:5000", "http://", "http://bad_host", "http://-x.example",
                "http://a..b", "http://[::1", "http://ho\tst", "http://" + "a" * 64 + ".com"):
        env = {"AWS_ENDPOINT_URL": url}
        compare(f"bad endpoint {url!r}", run_tool(["--region", "us-east-1"], env),
                botocore_resolve("us-east-1", env_extra=env), want_error_code=E_ENDPOINT)
        n += 1
    print(f"refusals: {n} comparisons")


# ---- 6. URL parsing --------------------------------------------------------------------------

def botocore_accepts(url):
    try:
        return bool(botocore.utils.is_valid_endpoint_url(url)
                    or botocore.utils.is_valid_ipv6_endpoint_url(url))
    except ValueError:  # urlsplit refuses some malformed URLs outright
        return False


def check_url_parsing():
    good = ["https://api.ecr.us-east-1.amazonaws.com", "http://127.0.0.1:8080",
            "http://localhost:80/", "https://localhost:80", "http://localhost:443",
            "HTTPS://LocalHost:443/a/b", "https://[::1]:8443/x/", "http://[::1]",
            "https://[2001:DB8::1]:443", "http://[::ffff:127.0.0.1]:1", "http://example.com.:9000",
            "http://a-b.c:65535/p%20q/~u/", "https://x:00443", "http://10.0.0.1:5000/v1/ecr"]
    # ecrup refuses these on purpose although botocore lets them through: other schemes,
    # user info (a password in a URL), queries, fragments, zone ids, unencoded path bytes.
    stricter = ["ftp://example.com", "http://user:pw@host", "http://host?x=1", "http://host/#f",
                "http://[fe80::1%25eth0]:80", "http://host/a{b}", "http://host:0"]
    bad = ["localhost:5000", "http://", "http://bad_host", "http://-x", "http://a..b",
           "http://[::1", "http://[::g]", "http://ho st", "http://host\n", "http:/host"]
    n = 0
    for url in good:
        ours = run_tool(["--parse", url])
        ok = botocore_accepts(url)
        n += 1
        if ours["status"] != "ok":
            fail(f"parse {url}: ecrup refuses: {ours['message']}")
        elif not ok:
            fail(f"parse {url}: ecrup accepts what botocore refuses")
        elif ours["host_header"] != botocore.auth._host_from_url(url):
            fail(f"parse {url}: Host {ours['host_header']} vs botocore "
                 f"{botocore.auth._host_from_url(url)}")
        elif ours["base_url"] != normalised(url):
            fail(f"parse {url}: base {ours['base_url']} vs {normalised(url)}")
    for url in stricter + bad:
        ours = run_tool(["--parse", url])
        n += 1
        if ours["status"] != "error" or ours["code"] != E_ENDPOINT or not ours["message"]:
            fail(f"parse {url!r}: ecrup should refuse with a message: {ours}")
        if "pw@" in ours.get("message", ""):
            fail(f"parse {url!r}: the message shows the password")
    for url in bad:
        if botocore_accepts(url):
            fail(f"parse {url!r}: listed as refused by both, but botocore accepts it")
    print(f"URL parsing: {n} URLs")


def main():
    check_tables()
    check_regions()
    check_variant_sources()
    check_configured()
    check_errors()
    check_url_parsing()
    print(f"{compared} comparisons with botocore {botocore.__version__}; "
          f"meta.endpoint_url differed from the request URL in {meta_differs} (legacy "
          f"endpoints.json, not what is sent)")
    if compared < 60:
        fail(f"only {compared} comparisons")
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Cross-check the C signer against botocore's SigV4Auth on randomised ECR-shaped requests.

Each request is signed by botocore (service 'ecr', clock pinned by replacing
botocore.auth.get_current_datetime) and by sigv4_tool (the C signer, fed JSON lines on
stdin); the Authorization and X-Amz-Date values must be identical. The tool runs twice:
with its key cache and without. The secrets are random test values."""
import base64
import datetime
import json
import random
import string
import subprocess
import sys
from urllib.parse import quote

try:
    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("botocore is not installed")
    sys.exit(77)

N = 240
rng = random.Random(20150830)

OPS = ["BatchCheckLayerAvailability", "InitiateLayerUpload", "UploadLayerPart",
       "CompleteLayerUpload", "PutImage", "BatchGetImage", "DescribeRepositories",
       "GetAuthorizationToken", "CreateRepository"]
REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1",
           "ap-southeast-2", "ap-northeast-1", "ap-south-1", "sa-east-1", "ca-central-1",
           "me-south-1", "af-south-1", "il-central-1", "cn-north-1", "cn-northwest-1",
           "us-gov-west-1", "us-gov-east-1"]
B64 = string.ascii_letters + string.digits + "+/"


def rand_secret():
    s = list("".join(rng.choice(B64) for _ in range(40)))
    s[rng.randrange(40)] = "/"
    s[rng.randrange(40)] = "+"
    return "".join(s)


def rand_akid(temp):
    return ("ASIA" if temp else "AKIA") + "".join(
        rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def rand_token():
    raw = bytes(rng.getrandbits(8) for _ in range(rng.randrange(100, 700)))
    return base64.b64encode(raw).decode()


def rand_url(region):
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    host = "api.ecr." + region + suffix
    kind = rng.randrange(9)
    if kind == 0:
        return "https://" + host + ":443"          # explicit default port: omitted
    if kind == 1:
        return "https://" + host + ":8443"         # non-default: kept
    if kind == 2:
        return "http://127.0.0.1:%d" % rng.randrange(1024, 65536)
    if kind == 3:
        return "http://localhost:80"
    if kind == 4:
        return "https://API.ECR." + region.upper() + suffix.upper()  # lower-cased host
    if kind == 5:
        return "http://[::1]:%d" % rng.randrange(1024, 65536)
    if kind == 6:
        return "https://ecr." + region + ".api.aws"
    return "https://" + host


def rand_body(op):
    body = {"registryId": "%012d" % rng.randrange(10**12),
            "repositoryName": rng.choice(["app", "team/service", "a-b_c.d", "x" * 200])}
    if op == "UploadLayerPart":
        size = rng.choice([0, 1, 2, 3, 100, 4096, 65536, 1 << 20]) if rng.random() < 0.9 \
            else rng.randrange(1 << 20, 3 << 20)
        blob = bytes(rng.getrandbits(8) for _ in range(min(size, 4096)))
        blob = (blob * (size // max(len(blob), 1) + 1))[:size]
        body.update(uploadId=str(rng.getrandbits(128)), partFirstByte=0,
                    partLastByte=max(size - 1, 0), layerPartBlob=base64.b64encode(blob).decode())
    elif op == "CompleteLayerUpload":
        body.update(uploadId=str(rng.getrandbits(128)),
                    layerDigests=["sha256:%064x" % rng.getrandbits(256)])
    elif op == "BatchCheckLayerAvailability":
        body["layerDigests"] = ["sha256:%064x" % rng.getrandbits(256)
                                for _ in range(rng.randrange(1, 20))]
    elif op == "PutImage":
        body.update(imageManifest=json.dumps({"schemaVersion": 2, "layers": []}),
                    imageTag=rng.choice(["latest", "v1.2.3", "tag-\u00e9t\u00e9"]))
    if rng.random() < 0.1:
        body["note"] = "unicode \u2603 \u0432\u0435\u0440 and escapes \" \\ \n"
    return json.dumps(body, ensure_ascii=rng.random() < 0.5, separators=(",", ":"))


def make_case(i):
    region = rng.choice(REGIONS)
    temp = rng.random() < 0.5
    op = rng.choice(OPS)
    case = {
        "method": "POST", "url": rand_url(region), "path": "/", "query": None,
        "headers": [["Content-Type", "application/x-amz-json-1.1"],
                    ["X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921." + op]],
        "body": rand_body(op), "access_key_id": rand_akid(temp),
        "secret_access_key": rand_secret(), "region": region, "service": "ecr",
        "time": rng.randrange(946684800, 2082758400),  # 2000 .. 2036
    }
    if temp:
        case["session_token"] = rand_token()
    if rng.random() < 0.2:
        # a header with whitespace runs to fold
        case["headers"].append(["X-Ecrup-Test", rng.choice(["  a   b\t\tc  ", "x", " y  "])])
    if rng.random() < 0.1:
        # off the ECR path: a path to normalise and encode, and a query botocore takes as is
        # (the path as sent on the wire, already encoded once: the signer encodes it again)
        raw = rng.choice(["/v2/some repo/blobs", "/a/./b/../c", "//x//y/", "/\u00e9t\u00e9/%41",
                          "/~user/-._", "/a+b=c;d"])
        case["path"] = quote(raw, safe="/~%+=;")
        keys = rng.sample(["b", "a", "Z", "x-y", "k_1"], 3)
        case["query"] = "&".join("%s=%s" % (k, rng.choice(["1", "v", "", "A~"])) for k in keys)
    return case


def botocore_sign(case):
    url = case["url"] + case["path"]
    if case["query"]:
        url += "?" + case["query"]
    req = AWSRequest(method=case["method"], url=url, data=case["body"].encode("utf-8"),
                     headers=dict(case["headers"]))
    when = datetime.datetime.fromtimestamp(case["time"], datetime.timezone.utc).replace(tzinfo=None)
    botocore.auth.get_current_datetime = lambda: when
    creds = Credentials(case["access_key_id"], case["secret_access_key"],
                        case.get("session_token"))
    SigV4Auth(creds, case["service"], case["region"]).add_auth(req)
    return {"authorization": req.headers["Authorization"], "amz_date": req.headers["X-Amz-Date"]}


def run_tool(tool, cases, extra):
    stdin = "".join(json.dumps(c) + "\n" for c in cases)
    out = subprocess.run([tool] + extra, input=stdin.encode(), stdout=subprocess.PIPE,
                         check=True).stdout.decode().splitlines()
    return [json.loads(line) for line in out]


def main():
    tool = sys.argv[1]
    cases = [make_case(i) for i in range(N)]
    want = [botocore_sign(c) for c in cases]
    ports = sum(1 for c in cases if ":" in c["url"].split("//", 1)[1])
    tokens = sum(1 for c in cases if "session_token" in c)
    big = sum(1 for c in cases if len(c["body"]) > (1 << 20))
    print("%d requests: %d with a session token, %d with an explicit port, %d bodies over 1 MiB"
          % (N, tokens, ports, big))
    failures = 0
    for mode, extra in (("cached", []), ("uncached", ["--no-cache"])):
        got = run_tool(tool, cases, extra)
        if len(got) != N:
            print("%s: the tool answered %d of %d requests" % (mode, len(got), N))
            return 1
        for i, (g, w) in enumerate(zip(got, want)):
            if g.get("authorization") == w["authorization"] and g.get("amz_date") == w["amz_date"]:
                continue
            failures += 1
            if failures == 1:
                c = cases[i]
                print("%s: request %d differs (region %s, url %s, path %r, query %r, token %s)"
                      % (mode, i, c["region"], c["url"], c["path"], c["query"],
                         "yes" if "session_token" in c else "no"))
                print("  botocore: %s | %s" % (w["amz_date"], w["authorization"]))
                print("  ecrup:    %s | %s" % (g.get("amz_date"), g.get("authorization", g)))
        print("%s: %d of %d signatures match botocore" % (mode, N - failures, N))
        if failures:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

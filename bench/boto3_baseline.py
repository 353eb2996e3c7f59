#!/usr/bin/env python3
"""The boto3 baseline for ecrup-bench: what a user would write to push layers with boto3.

One client (endpoint_url, region), and per layer: initiate_layer_upload, upload_layer_part for
each partSize chunk in order, complete_layer_upload with the digest (hashlib while reading,
unless it is given); a ThreadPoolExecutor (default size) across layers. Credentials come from
the environment; retries as botocore does them by default (a throttled call is retried with
backoff). Prints one JSON line: wall_s (client creation to the last completion), layers, bytes,
requests (calls made), retries (attempts after the first, from each reply's RetryAttempts).

    boto3_baseline.py --endpoint URL [--region R] [--repository NAME] [--ca-bundle FILE]
                      FILE[=sha256:HEX]...
"""
import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--repository", default="bench")
    ap.add_argument("--ca-bundle")
    ap.add_argument("layers", nargs="+", help="FILE or FILE=sha256:HEX when the digest is known")
    args = ap.parse_args()

    layers = []
    for spec in args.layers:
        path, _, digest = spec.partition("=")
        layers.append((path, digest or None))

    t0 = time.monotonic()
    client = boto3.client("ecr", endpoint_url=args.endpoint, region_name=args.region,
                          verify=args.ca_bundle if args.ca_bundle else True)
    repo = args.repository

    retries = []  # list.append is atomic under the GIL

    def counted(reply):
        retries.append(reply["ResponseMetadata"].get("RetryAttempts", 0))
        return reply

    def push(layer):
        path, digest = layer
        up = counted(client.initiate_layer_upload(repositoryName=repo))
        upload_id, part_size = up["uploadId"], up["partSize"]
        h = hashlib.sha256() if digest is None else None
        offset = 0
        requests = 1
        with open(path, "rb") as f:
            while True:
                chunk = f.read(part_size)
                if not chunk:
                    break
                if h is not None:
                    h.update(chunk)
                counted(client.upload_layer_part(repositoryName=repo, uploadId=upload_id,
                                                 partFirstByte=offset,
                                                 partLastByte=offset + len(chunk) - 1,
                                                 layerPartBlob=chunk))
                offset += len(chunk)
                requests += 1
        counted(client.complete_layer_upload(repositoryName=repo, uploadId=upload_id,
                                             layerDigests=[digest or "sha256:" + h.hexdigest()]))
        return offset, requests + 1

    with ThreadPoolExecutor() as pool:
        done = list(pool.map(push, layers))
    wall = time.monotonic() - t0
    print(json.dumps({"wall_s": wall, "layers": len(done), "bytes": sum(d[0] for d in done),
                      "requests": sum(d[1] for d in done), "retries": sum(retries)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

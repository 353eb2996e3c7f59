#!/usr/bin/env python3
"""`ecrup serve` answers each request for the region it was signed for: boto3 clients in two
regions (and one in China, whose ARNs have their own partition) see repository ARNs naming
their own region, as ECR's do, from the same server. Nothing leaves 127.0.0.1."""
import os
import sys

import boto3
import botocore.config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402
import serve  # noqa: E402

BIN = os.path.join(os.environ.get("ECRUP_BINARY_DIR", "build"), "ecrup")
AKID, SECRET = "AKIDECRUPREGION00001", "ecrup-region-secret-key/0123456789abcdef"


def client(url, region):
    cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("ecr", endpoint_url=url, region_name=region, aws_access_key_id=AKID,
                        aws_secret_access_key=SECRET, config=cfg)


def main():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_EC2_METADATA_DISABLED="true")
    srv = serve.Server(BIN, "--repository", "pre/made", env=env)
    try:
        eu, ap = client(srv.url, "eu-west-1"), client(srv.url, "ap-southeast-2")
        made = eu.create_repository(repositoryName="team/app")["repository"]
        account = made["registryId"]
        check(made["repositoryArn"] == "arn:aws:ecr:eu-west-1:%s:repository/team/app" % account,
              "CreateRepository signed for eu-west-1: %s" % made["repositoryArn"])
        for c, region in ((eu, "eu-west-1"), (ap, "ap-southeast-2")):
            arns = {r["repositoryName"]: r["repositoryArn"]
                    for r in c.describe_repositories()["repositories"]}
            for name in ("team/app", "pre/made"):
                want = "arn:aws:ecr:%s:%s:repository/%s" % (region, account, name)
                check(arns.get(name) == want,
                      "DescribeRepositories signed for %s: %s (got %s)" % (region, want,
                                                                           arns.get(name)))
        cn = client(srv.url, "cn-north-1")
        arn = cn.describe_repositories(repositoryNames=["team/app"])["repositories"][0][
            "repositoryArn"]
        check(arn == "arn:aws-cn:ecr:cn-north-1:%s:repository/team/app" % account,
              "cn-north-1: the aws-cn partition: %s" % arn)
    finally:
        srv.stop()
    return finish("test_serve_region")


if __name__ == "__main__":
    sys.exit(main())

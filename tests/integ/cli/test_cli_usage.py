#!/usr/bin/env python3
"""`ecrup upload-layer` refuses a wrong command line with exit 2, a message naming what is
wrong, nothing on stdout and no connection to the endpoint; its help teaches; a configuration
the engine cannot resolve gives one failed --json line per layer and exit 1."""
import json
import os
import shutil
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import BIN, check, clean_env, finish, run  # noqa: E402

HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def main():
    # A listener standing for the endpoint: a usage error must never reach it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    url = "http://127.0.0.1:%d" % listener.getsockname()[1]
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                c, _ = listener.accept()
                connections.append(c)
            except socket.timeout:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()

    tmp = tempfile.mkdtemp(prefix="ecrup-cli-usage-")
    layer = os.path.join(tmp, "layer.bin")
    with open(layer, "wb") as f:
        f.write(b"layer bytes")
    other = os.path.join(tmp, "other.bin")
    with open(other, "wb") as f:
        f.write(b"other bytes")
    unreadable = os.path.join(tmp, "fifo")
    os.mkfifo(unreadable)
    env = clean_env(AWS_ACCESS_KEY_ID="AKIDUSAGE", AWS_SECRET_ACCESS_KEY="usage-secret-key-000",
                    AWS_REGION="us-east-1", AWS_ENDPOINT_URL=url)

    cases = [
        ([], "--repository NAME is required"),
        ([layer], "--repository NAME is required"),
        (["--repository", "app"], "no layer FILE given"),
        (["--repository"], "option --repository needs a value"),
        (["--repository", "A", layer], "'A' is not a repository name"),
        (["--repository", "Team/App", layer], "'Team/App' is not a repository name"),
        (["--repository", "team//app", layer], "'team//app' is not a repository name"),
        (["--repository", "app", os.path.join(tmp, "missing.tar")], "missing.tar: no such file"),
        (["--repository", "app", tmp], "is a directory"),
        (["--repository", "app", unreadable], "is not a regular file"),
        (["--repository", "app", layer, os.path.join(tmp, "nope")], "nope: no such file"),
        (["--repository", "app", "--digest", "sha256:abc", layer], "'sha256:abc' is not a layer digest"),
        (["--repository", "app", "--digest", "md5:" + HEX[:32], layer], "is not a layer digest"),
        (["--repository", "app", "--digest", "sha256:" + HEX.upper(), layer], "is not a layer digest"),
        (["--repository", "app", "--digest", "sha256:" + HEX, layer, other],
         "--digest names one layer, but 2 files were given"),
        (["--repository", "app", "--registry-id", "12345", layer], "'12345' is not a 12-digit"),
        (["--repository", "app", "--part-size", "1M", layer], "--part-size must be between 5M and 20M"),
        (["--repository", "app", "--part-size", "21M", layer], "--part-size must be between 5M and 20M"),
        (["--repository", "app", "--part-size", "ten", layer], "--part-size: 'ten' is not a size"),
        (["--repository", "app", "--memory-limit", "0", layer], "--memory-limit: '0' is not a size"),
        (["--repository", "app", "--memory-limit", "99999999999T", layer], "is not a size"),
        (["--repository", "app", "--concurrency", "0", layer], "--concurrency must be a number"),
        (["--repository", "app", "--region", "", layer], "--region must not be empty"),
        (["--repository", "app", "--no-check", "--check-first", layer],
         "--no-check and --check-first contradict each other"),
        (["--repository", "app", "--bogus", layer], "unknown option '--bogus'"),
        (["--repository", "app", "-x", layer], "unknown option '-x'"),
    ]
    for args, want in cases:
        r = run(["upload-layer", *args], env)
        what = "upload-layer %s" % " ".join(a.replace(tmp, "TMP") for a in args)
        check(r.returncode == 2, "%s: exit 2 (got %d)" % (what, r.returncode))
        check(want in r.stderr, "%s: stderr names the problem %r (got %r)" % (what, want, r.stderr))
        check(r.stderr.startswith("ecrup upload-layer: "), "%s: message is prefixed" % what)
        check(r.stdout == "", "%s: nothing on stdout (got %r)" % (what, r.stdout))
        check(r.stderr.count("\n") <= 2, "%s: a short message, not the whole help" % what)

    # An unknown option or command names the nearest real one when one is close (issue 15),
    # and only then; every command's parser goes through the same search.
    near = [
        (["upload-layer", "--repositry", "r", layer],
         "ecrup upload-layer: unknown option '--repositry'; did you mean '--repository'? "
         "see 'ecrup upload-layer --help'"),
        (["upload-layer", "--repository", "app", "--regoin=eu-west-1", layer],
         "unknown option '--regoin=eu-west-1'; did you mean '--region'?"),
        (["upload-layer", "--repository", "app", "-json", layer],
         "unknown option '-json'; did you mean '--json'?"),
        (["upload-layer", "--repository", "app", "--digets", "sha256:" + HEX, layer],
         "did you mean '--digest'?"),
        (["push", "--repository", "app", "--tga", "v1", tmp],
         "ecrup push: unknown option '--tga'; did you mean '--tag'? see 'ecrup push --help'"),
        (["push", "--repository", "app", "--no-chek", tmp], "did you mean '--no-check'?"),
        (["config", "--endpoint-ulr", url],
         "ecrup config: unknown option '--endpoint-ulr'; did you mean '--endpoint-url'? "
         "see 'ecrup config --help'"),
        (["config", "--insecrue"], "did you mean '--insecure'?"),
        (["serve", "--lisen", "127.0.0.1:0"],
         "ecrup serve: unknown option '--lisen'; did you mean '--listen'? "
         "see 'ecrup serve --help'"),
        (["pussh", "--repository", "app", tmp],
         "ecrup: no command 'pussh'; did you mean 'push'? run 'ecrup --help' to see them"),
        (["help", "uplaod-layer"], "no command 'uplaod-layer'; did you mean 'upload-layer'?"),
    ]
    for args, want in near:
        r = run(args, env)
        what = " ".join(a.replace(tmp, "TMP") for a in args)
        check(r.returncode == 2, "%s: exit 2 (got %d)" % (what, r.returncode))
        check(want in r.stderr, "%s: suggests %r (got %r)" % (what, want, r.stderr))
        check(r.stderr.count("\n") == 1 and r.stdout == "", "%s: one line, on stderr" % what)
    far = [
        (["upload-layer", "--repository", "app", "--bogus", layer],
         "ecrup upload-layer: unknown option '--bogus'; see 'ecrup upload-layer --help'"),
        (["upload-layer", "--repository", "app", "-x", layer], "unknown option '-x'; see"),
        (["push", "--repository", "app", "--rep", tmp], "unknown option '--rep'; see"),
        (["serve", "--verbose"], "unknown option '--verbose'; see 'ecrup serve --help'"),
        (["deploy"], "ecrup: no command 'deploy'; run 'ecrup --help' to see them"),
    ]
    for args, want in far:
        r = run(args, env)
        what = " ".join(a.replace(tmp, "TMP") for a in args)
        check(r.returncode == 2 and want in r.stderr and "did you mean" not in r.stderr,
              "%s: nothing close, no suggestion (got %d %r)" % (what, r.returncode, r.stderr))

    # --json does not change a usage error into a JSON line.
    r = run(["upload-layer", "--json", "--repository", "app", os.path.join(tmp, "gone")], env)
    check(r.returncode == 2 and r.stdout == "", "--json usage error: exit 2, stdout empty")

    # `--` ends the options: a file named like an option.
    r = run(["upload-layer", "--repository", "app", "--", "--no-such-file"], env, cwd=tmp)
    check(r.returncode == 2 and "--no-such-file: no such file" in r.stderr,
          "after --, '--no-such-file' is a FILE (got %d %r)" % (r.returncode, r.stderr))

    # Help: exit 0, on stdout, and it teaches.
    for args in (["upload-layer", "--help"], ["upload-layer", "-h"], ["help", "upload-layer"]):
        r = run(args, env)
        check(r.returncode == 0, "%s: exit 0" % " ".join(args))
        for want in ("Usage: ecrup upload-layer --repository NAME", "--registry-id", "--digest",
                     "--json", "--no-check", "--check-first", "--insecure", "--endpoint-url", "--part-size",
                     "--memory-limit", "--concurrency", "--quiet", "--verbose", "Examples:",
                     "Exit status:", "130", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN",
                     "AWS_ENDPOINT_URL_ECR", "AWS_PROFILE", "\"status\":\"failed\"",
                     "--create-repository", "\"requests\":N", "\"retries\":N"):
            check(want in r.stdout, "%s: help mentions %r" % (" ".join(args), want))
    r = run(["--help"], env)
    check(r.returncode == 0 and "upload-layer" in r.stdout, "ecrup --help lists upload-layer")

    check(not connections, "no usage error connected to the endpoint (%d did)" % len(connections))

    # Configuration the engine cannot resolve: nothing is sent, every layer gets a failed
    # line with the contract's keys in order, exit 1.
    keys = ["file", "digest", "size", "status", "parts", "attempts", "resumed_from", "requests",
            "retries", "error", "message"]
    noregion = clean_env(AWS_ACCESS_KEY_ID="AKIDUSAGE", AWS_SECRET_ACCESS_KEY="usage-secret-0000",
                         AWS_ENDPOINT_URL=url)
    r = run(["upload-layer", "--json", "--repository", "app", layer, other], noregion)
    check(r.returncode == 1, "no region: exit 1 (got %d)" % r.returncode)
    lines = r.stdout.splitlines()
    check(len(lines) == 2, "no region: one line per layer (got %r)" % r.stdout)
    for line, path, size in zip(lines, (layer, other), (11, 11)):
        doc = json.loads(line, object_pairs_hook=lambda pairs: pairs)
        check([k for k, _ in doc] == keys, "no region: keys in the contract's order (%r)" % doc)
        d = dict(doc)
        check(d["file"] == path and d["size"] == size and d["status"] == "failed",
              "no region: file, size, status (%r)" % d)
        check(d["digest"] is None and d["parts"] == 0 and d["attempts"] == 0 and
              d["requests"] == 0 and d["retries"] == 0,
              "no region: nothing known, nothing sent (%r)" % d)
        check(d["error"] == "NoRegion" and "region" in d["message"],
              "no region: error and message say so (%r)" % d)
    check("region" in r.stderr, "no region: stderr says so too")

    nocreds = clean_env(AWS_REGION="us-east-1", AWS_ENDPOINT_URL=url)
    r = run(["upload-layer", "--json", "--repository", "app", "--digest", "sha256:" + HEX, layer],
            nocreds)
    check(r.returncode == 1, "no credentials: exit 1 (got %d)" % r.returncode)
    d = json.loads(r.stdout) if r.stdout.count("\n") == 1 else {}
    check(d.get("error") == "NoCredentials" and d.get("digest") == "sha256:" + HEX,
          "no credentials: NoCredentials, the given digest echoed (%r)" % r.stdout)

    # Without --json: the message once on stderr, nothing ran so nothing on stdout.
    r = run(["upload-layer", "--repository", "app", layer], noregion)
    check(r.returncode == 1, "plain, no region: exit 1")
    check(r.stdout == "" and r.stderr.count("no AWS region") == 1,
          "plain, no region: one message on stderr (%r %r)" % (r.stdout, r.stderr))

    # --insecure is said out loud.
    r = run(["upload-layer", "--insecure", "--repository", "app", layer], noregion)
    check("warning: --insecure" in r.stderr, "--insecure warns (%r)" % r.stderr)
    r = run(["upload-layer", "--insecure", "--quiet", "--repository", "app", layer], noregion)
    check("warning" not in r.stderr and r.stdout == "", "--quiet: no warning, nothing on stdout")

    # A host that does not resolve, built from a region no partition lists: the message names
    # the region as a likely typo (issue 15). The host is 254 characters, one more than a DNS
    # name can hold, so the resolver gives up before any query leaves the machine; the RFC 6761
    # .invalid name alone would still be asked of the configured name server.
    def unresolvable(region):
        host = "api.ecr.%s.%s." % (region, ".".join(["a" * 60] * 3))
        return host + "b" * (254 - len(host) - len(".invalid")) + ".invalid"

    dns = clean_env(AWS_ACCESS_KEY_ID="AKIDUSAGE", AWS_SECRET_ACCESS_KEY="usage-secret-key-000",
                    AWS_MAX_ATTEMPTS="1")
    host = unresolvable("eu-wst-1")
    check(len(host) == 254, "the unresolvable host has 254 characters")
    r = run(["upload-layer", "--json", "--no-resume", "--region", "eu-wst-1", "--endpoint-url",
             "https://" + host, "--repository", "app", layer], dns, timeout=60)
    d = json.loads(r.stdout) if r.stdout.count("\n") == 1 else {}
    want = ("cannot resolve %s: the region 'eu-wst-1' is not one AWS lists (did you mean "
            "eu-west-1?)" % host)
    check(r.returncode == 1 and d.get("error") == "NetworkError" and want in d.get("message", ""),
          "unresolvable host, mistyped region: named (%d %r)" % (r.returncode, r.stdout))
    r = run(["upload-layer", "--no-resume", "--region", "eu-wst-1", "--endpoint-url",
             "https://" + host, "--repository", "app", layer], dns, timeout=60)
    check(r.returncode == 1 and "NetworkError" in r.stderr
          and "did you mean eu-west-1?" in r.stderr,
          "plain output: the layer's failed line (on stderr) says the same (%r)" % r.stderr)
    host = unresolvable("eu-west-1")
    r = run(["upload-layer", "--json", "--no-resume", "--region", "eu-west-1", "--endpoint-url",
             "https://" + host, "--repository", "app", layer], dns, timeout=60)
    d = json.loads(r.stdout) if r.stdout.count("\n") == 1 else {}
    check(r.returncode == 1 and "Could not resolve host" in d.get("message", "")
          and "not one AWS lists" not in d.get("message", ""),
          "unresolvable host, listed region: libcurl's words, no hint (%r)" % r.stdout)

    stop.set()
    t.join()
    listener.close()
    for c in connections:
        c.close()
    shutil.rmtree(tmp, ignore_errors=True)
    finish("test_cli_usage")


if __name__ == "__main__":
    main()

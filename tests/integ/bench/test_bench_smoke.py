#!/usr/bin/env python3
"""ecrup-bench --quick end to end: the smoke workloads (HTTP; HTTPS through an emulated link)
run once with the boto3 baseline, and results.json holds every field, each a positive number
where one is expected. Asserts structure and sanity, never speed.

    test_bench_smoke.py ECRUP_BENCH ECRUP
"""
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, finish  # noqa: E402


def positive(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def check_series(obj, key, where, allow_zero=False):
    s = obj.get(key)
    check(isinstance(s, dict), f"{where}.{key} is an object")
    if not isinstance(s, dict):
        return
    runs = s.get("runs")
    check(isinstance(runs, list) and len(runs) == 1, f"{where}.{key}.runs has one run")
    for k in ("median", "min", "max"):
        v = s.get(k)
        ok = positive(v) or (allow_zero and v == 0)
        check(ok, f"{where}.{key}.{k} is {'non-negative' if allow_zero else 'positive'}: {v!r}")
    if all(isinstance(s.get(k), (int, float)) for k in ("median", "min", "max")):
        check(s["min"] <= s["median"] <= s["max"], f"{where}.{key}: min <= median <= max")


def main():
    bench, ecrup = sys.argv[1], sys.argv[2]
    src = os.environ.get("ECRUP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
    with tempfile.TemporaryDirectory(prefix="ecrup-bench-smoke-") as out:
        proc = subprocess.run([bench, "--quick", "--out", out, "--ecrup", ecrup,
                               "--workloads", os.path.join(src, "bench/workloads"),
                               "--boto3-script", os.path.join(src, "bench/boto3_baseline.py"),
                               "--python", sys.executable],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=110)
        print(proc.stdout)
        check(proc.returncode == 0, f"ecrup-bench exits 0 (got {proc.returncode})")
        check("smoke-http" in proc.stdout and "x boto3" in proc.stdout, "the table is printed")
        path = os.path.join(out, "results.json")
        check(os.path.exists(path), "results.json is written")
        if not os.path.exists(path):
            return finish("bench_smoke")
        with open(path) as f:
            res = json.load(f)

        check(res.get("format") == 1 and res.get("runs") == 1 and res.get("quick") is True,
              "header: format 1, one run, quick")
        host = res.get("host", {})
        check(isinstance(host.get("cores"), int) and host["cores"] >= 1, "host.cores")
        check(isinstance(host.get("loadavg_start"), (int, float)), "host.loadavg_start")
        names = [w.get("name") for w in res.get("workloads", [])]
        check(names == ["smoke-http", "smoke-https-wan"], f"the quick workloads ran: {names}")

        for w in res.get("workloads", []):
            where = w.get("name", "?")
            check(w.get("ok") is True and "error" not in w, f"{where} succeeded: {w.get('error')}")
            check(positive(w.get("bytes")) and positive(w.get("layers")), f"{where} size")
            e = w.get("ecrup", {})
            for key in ("wall_s", "mbps", "cpu_s_per_gb", "peak_rss_mib", "requests",
                        "server_cpu_s_per_gb"):
                check_series(e, key, where + ".ecrup")
            check_series(e, "retries", where + ".ecrup", allow_zero=True)
            # Requests: at least initiate + one part + complete per layer.
            req = e.get("requests", {}).get("median", 0)
            check(req >= 3 * w.get("layers", 1), f"{where}: {req} requests for {w.get('layers')} layers")
            f = w.get("floor", {})
            for key in ("cpu_s_per_gb", "ceiling_mbps", "ecrup_multiple"):
                check_series(f, key, where + ".floor")
            b = w.get("boto3", {})
            for key in ("wall_s", "mbps", "cpu_s_per_gb", "ratio"):
                check_series(b, key, where + ".boto3")
            check_series(b, "retries", where + ".boto3", allow_zero=True)
            # Derived figures agree with the ones they come from.
            try:
                mbps = w["bytes"] / 1e6 / e["wall_s"]["runs"][0]
                check(abs(mbps - e["mbps"]["runs"][0]) < 1e-6 * mbps, f"{where}: MB/s = bytes / wall")
                ratio = b["wall_s"]["runs"][0] / e["wall_s"]["runs"][0]
                check(abs(ratio - b["ratio"]["runs"][0]) < 1e-6 * ratio, f"{where}: ratio = boto3 / ecrup")
                mult = e["cpu_s_per_gb"]["runs"][0] / f["cpu_s_per_gb"]["runs"][0]
                check(abs(mult - f["ecrup_multiple"]["runs"][0]) < 1e-6 * mult, f"{where}: multiple of the floor")
            except (KeyError, IndexError, TypeError, ZeroDivisionError) as ex:
                check(False, f"{where}: derived figures present ({ex!r})")
            check(isinstance(w.get("targets"), list), f"{where}.targets is a list")

        smoke = next((w for w in res.get("workloads", []) if w.get("name") == "smoke-http"), {})
        check(smoke.get("quotas") == "ecr", "the HTTP smoke workload runs against --quotas ecr")
        wan = next((w for w in res.get("workloads", []) if w.get("name") == "smoke-https-wan"), {})
        check(wan.get("transport") == "https" and wan.get("digest") == "known", "the HTTPS workload")
        x = wan.get("wan", {})
        check(x.get("delay_ms") == 5 and x.get("bandwidth") == 50e6, "WAN link parameters")
        check(positive(x.get("ideal_s")), "WAN ideal time")
        check_series(x, "duty_cycle", "smoke-https-wan.wan")
        d = x.get("duty_cycle", {}).get("median", 2)
        check(d <= 1.05, f"the duty cycle is at most about 1 ({d}): the ideal is a lower bound")

        for name in ("bench.png", "bench.dat", "bench.gp"):
            check(os.path.exists(os.path.join(out, name)), f"{name} is written")
        png = os.path.join(out, "bench.png")
        if os.path.exists(png):
            with open(png, "rb") as f:
                check(f.read(8) == b"\x89PNG\r\n\x1a\n", "bench.png is a PNG")
    return finish("bench_smoke")


if __name__ == "__main__":
    sys.exit(main())

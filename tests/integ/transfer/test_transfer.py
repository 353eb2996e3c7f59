#!/usr/bin/env python3
"""engine/transfer.c against a loopback server that plays scripted replies per request key:
retries of transient errors and throttling, fatal errors, connection resets (after the body
and in the middle of it), clock-skew
correction from the Date header, the attempt limit, cancellation, connection reuse, and
botocore re-checking every signature."""
import email.utils
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import botocore_signature, check, finish  # noqa: E402

TOOL = os.path.join(os.environ["ECRUP_BINARY_DIR"], "tests", "integ", "transfer", "xfer_drive")
AKID, SECRET, REGION = "AKIDTRANSFER", "trans/fer+secret/key", "us-west-2"
SERVER_SKEW = 0  # seconds the server's clock is ahead, for the skew scenario
state = {"attempts": {}, "connections": 0, "bad_sigs": 0, "cuts": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with lock:
            state["connections"] += 1

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        head = self.rfile.read(min(length, 256))
        m = re.match(rb'\{"key":"([^"]*)","script":"([^"]*)"', head)
        if m:
            key, script = m.group(1).decode(), m.group(2).decode().split(",")
            with lock:
                n = state["attempts"].get(key, 0)
                cut = script[min(n, len(script) - 1)] == "cut"
                if cut:
                    state["attempts"][key] = n + 1
                    state["cuts"] += 1
            if cut:
                # read 1 MiB of the body, more than libcurl's 512 KiB upload buffer, then drop
                # the connection with the rest unread: the client is cut off mid-body
                self.rfile.read(min(length - len(head), 1 << 20))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
        body = head + self.rfile.read(length - len(head))
        expected = botocore_signature(self.headers, body, AKID, SECRET, REGION)
        if not self.headers["Authorization"].endswith("Signature=" + expected):
            with lock:
                state["bad_sigs"] += 1
            return self.reply(403, {"__type": "InvalidSignatureException", "message": "mismatch"})
        doc = json.loads(body)
        key = doc["key"]
        with lock:
            n = state["attempts"].get(key, 0)
            state["attempts"][key] = n + 1
        script = doc["script"].split(",")
        action = script[min(n, len(script) - 1)]
        if action == "ok":
            self.reply(200, {"key": key, "attempt": n + 1})
        elif action in ("500", "502", "503", "504"):
            self.reply(int(action), {"__type": "ServerException", "message": "try again"})
        elif action == "throttle":
            self.reply(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
        elif action == "fatal":
            self.reply(400, {"__type": "RepositoryNotFoundException", "message": "no repo"})
        elif action == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
        elif action == "slow":
            time.sleep(3)
            self.reply(200, {"key": key})
        elif action == "skew":
            server_now = time.time() + 3600
            sent = time.mktime(time.strptime(self.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
            if abs(sent - server_now) > 300:
                self.reply(403, {"__type": "InvalidSignatureException",
                                 "message": "Signature expired: %s is now earlier than ..." %
                                 self.headers["X-Amz-Date"]},
                           date=email.utils.formatdate(server_now, usegmt=True))
            else:
                self.reply(200, {"key": key})

    def reply(self, status, doc, date=None):
        data = json.dumps(doc).encode()
        self.send_response_only(status)
        self.send_header("Date", date or email.utils.formatdate(time.time(), usegmt=True))
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def drive(port, jobs, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_EC2_METADATA_DISABLED="true")
    stdin = "".join("%s %s %d %s\n" % j for j in jobs)
    out = subprocess.run([TOOL, "http://127.0.0.1:%d" % port, "127.0.0.1:%d" % port, REGION]
                         + list(args), input=stdin, env=env, capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        sys.exit("xfer_drive failed (%d): %s" % (out.returncode, out.stderr[-2000:]))
    results = {}
    stats = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        fields = dict(p.split("=", 1) for p in parts[1:])
        if parts[0] == "stats":
            stats = fields
        else:
            results[parts[0]] = fields
    return results, stats, out.stderr


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    jobs = [
        ("plain", "InitiateLayerUpload", 10, "ok"),
        ("t503", "UploadLayerPart", 100000, "503,ok"),
        ("t500x2", "UploadLayerPart", 10, "500,502,ok"),
        ("throttle", "CompleteLayerUpload", 10, "throttle,throttle,ok"),
        ("fatal", "PutImage", 10, "fatal"),
        ("reset", "UploadLayerPart", 2000000, "reset,ok"),
        ("exhaust", "UploadLayerPart", 10, "503"),
    ]
    jobs += [("many%02d" % i, "BatchCheckLayerAvailability", 1000, "ok") for i in range(40)]
    res, stats, log = drive(port, jobs, "--max-attempts", "3", "--connections", "4")
    check(state["bad_sigs"] == 0, "every signature verified by botocore")
    check(res["plain"] == {"ok": "1", "cancelled": "0", "attempts": "1", "class": "0",
                           "exception": "-"}, res["plain"])
    check(res["t503"]["ok"] == "1" and res["t503"]["attempts"] == "2", res["t503"])
    check(res["t500x2"]["ok"] == "1" and res["t500x2"]["attempts"] == "3", res["t500x2"])
    check(res["throttle"]["ok"] == "1" and res["throttle"]["attempts"] == "3", res["throttle"])
    check(res["fatal"]["ok"] == "0" and res["fatal"]["attempts"] == "1"
          and res["fatal"]["exception"] == "RepositoryNotFoundException", res["fatal"])
    # A connection closed without a reply: retried, whether by libcurl itself (it resends once
    # on a reused connection that died) or by the transfer; the attempt count tells which.
    check(res["reset"]["ok"] == "1", res["reset"])
    reset_attempts = int(res["reset"]["attempts"])
    check(res["exhaust"]["ok"] == "0" and res["exhaust"]["attempts"] == "3"
          and res["exhaust"]["class"] == "1", "attempt limit: %r" % res["exhaust"])
    check(all(res["many%02d" % i]["ok"] == "1" for i in range(40)), "40 concurrent calls")
    # 47 jobs over at most 4 connections kept alive (the reset one costs one more).
    check(state["connections"] <= 6, "connections reused: %d" % state["connections"])
    check(stats["requests"] == str(1 + 2 + 3 + 3 + 1 + reset_attempts + 3 + 40), stats)
    check(stats["retries"] == str(1 + 2 + 2 + (reset_attempts - 1) + 2), stats)
    check("UploadLayerPart attempt 2: HTTP 200" in log, "one log line per attempt")
    check(SECRET not in log and "Signature=" not in log, "no secrets in the log")

    # Clock skew: the server is an hour ahead; one refusal, the clock is corrected from the
    # reply's Date, the retry succeeds and does not count against the attempts budget.
    res, stats, _ = drive(port, [("skew", "InitiateLayerUpload", 10, "skew")], "--max-attempts", "1")
    check(res["skew"]["ok"] == "1" and res["skew"]["attempts"] == "2", res["skew"])
    check(abs(int(stats["clock_offset"]) - 3600) <= 5, "clock offset learned: %r" % stats)

    # Connections cut in the middle of a large body: every later attempt (libcurl's own resend
    # on a reused connection, or the transfer's retry) sends the body again from its first
    # byte, which the botocore check of the payload hash on the attempt that is answered proves.
    bad_before = state["bad_sigs"]
    res, stats, _ = drive(port, [("cut", "UploadLayerPart", 3000000, "cut,ok"),
                                 ("cut2", "UploadLayerPart", 14000000, "cut,cut,ok")],
                          "--max-attempts", "4", "--connections", "1")
    check(res["cut"]["ok"] == "1" and res["cut2"]["ok"] == "1", "cut mid-body: %r" % res)
    check(state["cuts"] == 3, "three connections cut mid-body: %d" % state["cuts"])
    check(state["attempts"]["cut"] == 2 and state["attempts"]["cut2"] == 3,
          "the server saw every attempt: %r" % state["attempts"])
    check(state["bad_sigs"] == bad_before, "resent bodies are byte for byte the signed ones")

    # Adaptive mode still lands everything through throttling.
    res, stats, _ = drive(port, [("ad%02d" % i, "UploadLayerPart", 10, "throttle,ok") for i in range(3)],
                          "--adaptive")
    check(all(res["ad%02d" % i]["ok"] == "1" for i in range(3)), "adaptive mode")

    # Cancellation: slow requests in flight and queued end cancelled, quickly.
    t0 = time.time()
    res, stats, _ = drive(port, [("slow%d" % i, "UploadLayerPart", 10, "slow") for i in range(6)],
                          "--cancel-after-ms", "300", "--connections", "2")
    check(all(r["cancelled"] == "1" and r["ok"] == "0" for r in res.values()), res)
    check(time.time() - t0 < 2.9, "cancel does not wait for replies")

    server.shutdown()
    return finish("test_transfer")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What `ecrup push` and `ecrup upload-layer` leave on a real terminal, read back from tmux
(capture-pane) at 80 and 120 columns, with and without NO_COLOR; and what they write when
stdout is not a terminal.

On the terminal: no line wider than the pane (a wrapped line breaks the in-place redraw), no
escape codes left under NO_COLOR, push's first line names the repository and its last one is
the image's `TAG: digest: sha256:... size: N`, with no line per blob after the bars and no
"Done" beside "Pushed". The link is slowed (`ecrup serve --faults bandwidth=`) so a part takes
seconds: the count shown moves while the first part is still unacknowledged. Off a terminal:
plain lines, no escapes, no carriage-return redraws.

tmux runs on its own socket (-L), killed at the end; skipped (77) when tmux is missing."""
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import (BIN, MiB, Server, check, creds_env, file_digest, finish,  # noqa: E402
                        make_file)
from test_cli_push import Layout  # noqa: E402

SOCKET = "ecrup-screen-%d" % os.getpid()
BANDWIDTH = "3M"  # request body bytes a second: a 5 MiB part (7 MB of body) takes seconds


def tmux(*args, check_rc=True):
    r = subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True,
                       timeout=30)
    if check_rc and r.returncode != 0:
        raise RuntimeError("tmux %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def start(name, cols, argv, env):
    """`argv` in a detached session of `cols` x 30; the pane stays after the command ends so
    that its last screen can be read."""
    command = "env -i %s %s; echo ECRUP-EXIT=$?" % (
        " ".join(shlex.quote("%s=%s" % kv) for kv in sorted(env.items())),
        " ".join(shlex.quote(a) for a in argv))
    tmux("new-session", "-d", "-s", name, "-x", str(cols), "-y", "30", command)
    tmux("set-option", "-t", name, "remain-on-exit", "on")


def capture(name, escapes=False):
    """The pane's history and screen, wrapped lines joined (-J), so a line the terminal
    wrapped comes back as one line wider than the pane."""
    return tmux("capture-pane", "-p", "-J", "-S", "-", "-t", name, *(["-e"] if escapes else []))


def wait_exit(name, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(r"ECRUP-EXIT=(\d+)", capture(name))
        if m:
            return int(m.group(1))
        time.sleep(0.2)
    return None


def lines_of(screen):
    """The pane's lines without the trailing blanks tmux pads with, and without the exit
    marker this script adds."""
    lines = [l.rstrip() for l in screen.splitlines()]
    lines = [l for l in lines if not l.startswith(("ECRUP-EXIT=", "Pane is dead"))]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def acked(server, at_least):
    """Whether an upload on the server has `at_least` bytes acknowledged (the big layer's first
    part: the small blobs' single parts are acknowledged at once)."""
    up = os.path.join(server.data, "uploads")
    for name in os.listdir(up) if os.path.isdir(up) else ():
        if name.endswith(".json"):
            try:
                with open(os.path.join(up, name)) as f:
                    if json.load(f).get("length", 0) >= at_least:
                        return True
            except (OSError, ValueError):
                pass  # completed and removed meanwhile
    return False


def size_of(text):
    """"7.08MB" as bytes."""
    m = re.match(r"([0-9.]+)(B|kB|MB|GB)$", text)
    return float(m.group(1)) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[m.group(2)] if m else -1


def image(tmp, name, layer_size):
    """A layout with a layer of `layer_size`, a small one and the config; returns its root,
    the manifest's descriptor and the big layer's short id (its line's label in the view)."""
    lay = Layout(os.path.join(tmp, name))
    desc, blobs = lay.image([layer_size, 300 * 1024])
    lay.add(desc, "v1")
    lay.write()
    return lay.root, desc, hashlib.sha256(blobs[1]).hexdigest()[:12]


def watch_mid_part(name, server, label):
    """Capture the pane until the layer `label`'s first part (5 MiB) is acknowledged: the
    largest count its Pushing line showed before then (the capture is taken before the
    server's state is read, so what it shows predates the acknowledgement)."""
    best = 0
    deadline = time.time() + 120
    while time.time() < deadline:
        screen = capture(name)
        if acked(server, 5 * MiB):
            break
        for m in re.finditer(r"^%s: +Pushing \[[^\]]*\] ([0-9.]+[kMG]?B)/" % label, screen,
                             re.M):
            best = max(best, size_of(m.group(1)))
        time.sleep(0.1)
    return best


def check_screen(what, lines, cols, no_color, colored):
    width = max((len(l) for l in lines), default=0)
    check(width <= cols, "%s: no line wider than the %d-column pane (%d: %r)"
          % (what, cols, width, [l for l in lines if len(l) > cols][:2]))
    if no_color:
        check("\x1b" not in colored, "%s, NO_COLOR: no escape code on the screen (%r)"
              % (what, [l for l in colored.splitlines() if "\x1b" in l][:2]))


def test_push(server, tmp, cols, no_color, mid_part):
    repo = "screen/p%d%s" % (cols, "nc" if no_color else "")
    root, desc, big = image(tmp, "img-%s" % repo.replace("/", "-"), 12 * MiB)
    env = creds_env(server.url, TERM="xterm-256color")
    if no_color:
        env["NO_COLOR"] = "1"
    what = "push at %d columns%s" % (cols, ", NO_COLOR" if no_color else "")
    name = "push%d%s" % (cols, "nc" if no_color else "")
    start(name, cols, [BIN, "push", "--repository", repo, "--part-size", "5M", "--no-resume",
                       root], env)
    if mid_part:
        shown = watch_mid_part(name, server, big)
        check(shown > 0, "%s: the count moves before the first part is acknowledged (%d bytes "
              "shown)" % (what, shown))
    rc = wait_exit(name)
    lines = lines_of(capture(name))
    check(rc == 0, "%s: exit 0 (%r %r)" % (what, rc, lines[-8:]))
    check_screen(what, lines, cols, no_color, capture(name, escapes=True))
    check(lines and lines[0] == "The push refers to repository [%s/%s]"
          % (server.url.split("://")[1], repo), "%s: the repository line first (%r)"
          % (what, lines[:2]))
    # Too wide for 80 columns, the image's line is cut at spaces, the rest indented.
    tail = list(lines)
    while len(tail) > 1 and tail[-1].startswith("  "):
        tail[-2:] = [tail[-2] + " " + tail[-1].strip()]
    last = tail[-1] if tail else ""
    check(last == "v1: digest: %s size: %d" % (desc["digest"], desc["size"]),
          "%s: the image's line last (%r)" % (what, lines[-3:]))
    bars = [l for l in lines if re.match(r"^[0-9a-f]{12}: ", l)]
    check(len(bars) == 3 and all(l.endswith(": Pushed") for l in bars),
          "%s: a line per blob, each ending Pushed (%r)" % (what, bars))
    check(not any("sha256:" in l and "pushed" in l for l in lines),
          "%s: no line per blob after the bars (%r)" % (what, lines))
    check(not any("Done" in l for l in lines), "%s: no Done beside Pushed" % what)
    tmux("kill-session", "-t", name)


def test_upload_layer(server, tmp, cols):
    layer = make_file(tmp, "screen-layer-%d.bin" % cols, 6 * MiB, seed=cols)
    env = creds_env(server.url, TERM="xterm-256color", NO_COLOR="1")
    name = "upload%d" % cols
    start(name, cols, [BIN, "upload-layer", "--repository", "screen/layers", "--part-size",
                       "5M", "--no-resume", layer], env)
    rc = wait_exit(name)
    lines = lines_of(capture(name))
    what = "upload-layer at %d columns" % cols
    check(rc == 0, "%s: exit 0 (%r %r)" % (what, rc, lines[-8:]))
    check_screen(what, lines, cols, True, capture(name, escapes=True))
    check(any(file_digest(layer) in l for l in lines),
          "%s: the layer's digest whole on one line (%r)" % (what, lines))
    tmux("kill-session", "-t", name)


def test_interrupt(server, tmp):
    """Ctrl-C mid-push on a terminal: the status is said once, by the report."""
    root, _, big = image(tmp, "img-int", 12 * MiB)
    name = "interrupt"
    start(name, 80, [BIN, "push", "--repository", "screen/int", "--part-size", "5M",
                     "--no-resume", root], creds_env(server.url, TERM="xterm-256color"))
    deadline = time.time() + 60
    while time.time() < deadline and not re.search(r"^%s: +Pushing" % big, capture(name), re.M):
        time.sleep(0.1)
    tmux("send-keys", "-t", name, "C-c")
    rc = wait_exit(name)
    lines = lines_of(capture(name))
    check(rc == 130, "Ctrl-C: exit 130 (%r %r)" % (rc, lines[-8:]))
    check_screen("Ctrl-C", lines, 80, False, "")
    check(sum(1 for l in lines if l.startswith("ecrup push: interrupted: ")) == 1 and
          lines[-1].strip() and not lines[-1].startswith("ecrup push: interrupted"),
          "Ctrl-C: one report, with its list (%r)" % lines)
    check(not any("Cancelled" in l or "Ctrl-C again" in l or "manifest" in l or
                  ": failed:" in l for l in lines),
          "Ctrl-C: no line per blob or manifest saying it, the stopping note gone (%r)" % lines)
    check("" not in lines[1:], "Ctrl-C: no empty line cut from a long one (%r)" % lines)
    tmux("kill-session", "-t", name)


def test_not_a_terminal(server, tmp):
    root, desc, _ = image(tmp, "img-pipe", 6 * MiB)
    env = creds_env(server.url, TERM="xterm-256color")
    r = subprocess.run([BIN, "push", "--repository", "screen/pipe", "--part-size", "5M",
                        "--no-resume", root], env=env, capture_output=True, text=True,
                       timeout=180)
    both = r.stdout + r.stderr
    check(r.returncode == 0, "pipe: exit 0 (%d %r)" % (r.returncode, both[-800:]))
    check("\x1b" not in both and "\r" not in both,
          "pipe: plain lines, no escape code, no carriage return (%r)" % both[:300])
    out = r.stdout.splitlines()
    check(out and out[0].startswith("The push refers to repository [") and
          out[-1] == "v1: digest: %s size: %d" % (desc["digest"], desc["size"]),
          "pipe: the repository line first, the image's line last (%r)" % out)
    check(sum(1 for l in out if re.search(r"/blobs/sha256/[0-9a-f]{64}: pushed sha256:", l)) == 3,
          "pipe: a result line per blob (%r)" % out)


def main():
    if not shutil.which("tmux"):
        print("test_cli_screen: tmux is not installed (scripts/setup-deps installs it)")
        return 77
    tmp = tempfile.mkdtemp(prefix="ecrup-cli-screen-")
    repos = ["screen/p80", "screen/p80nc", "screen/p120", "screen/p120nc", "screen/layers",
             "screen/pipe", "screen/int"]
    server = Server(*sum((["--repository", r] for r in repos), []), "--faults",
                    "bandwidth=" + BANDWIDTH)
    try:
        tmux("-f", "/dev/null", "start-server", ";", "set-option", "-g", "history-limit", "5000",
             check_rc=False)
        test_push(server, tmp, 80, False, mid_part=True)
        test_push(server, tmp, 80, True, mid_part=False)
        test_push(server, tmp, 120, False, mid_part=False)
        test_push(server, tmp, 120, True, mid_part=True)
        test_upload_layer(server, tmp, 80)
        test_upload_layer(server, tmp, 120)
        test_interrupt(server, tmp)
        test_not_a_terminal(server, tmp)
    finally:
        tmux("kill-server", check_rc=False)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    finish("test_cli_screen")


if __name__ == "__main__":
    sys.exit(main())

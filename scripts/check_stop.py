"""`make dev` stops everything it started on Ctrl-C, sent the way a terminal sends it.

A terminal delivers SIGINT to its whole foreground process group (make and scripts/dev.sh
both get it), and an impatient user presses it twice. For each moment (while the stack is
still starting, and once it is ready) this starts `make dev` in a session of its own with
SIGINT at its default disposition (as a shell gives a foreground job), records every
process the stack runs, sends SIGINT to the group twice, and fails unless every one of
those processes is gone and the ports are free 12 s later. Bounded: each case gives the
stack at most 10 minutes to start and stops it by force if the check fails.
"""

import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port):
    """Nothing listens on the port (connections closed a moment ago may linger in
    TIME_WAIT; a server restarted with SO_REUSEADDR, as these are, is not hindered)."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def children():
    """Map of parent pid -> child pids, from /proc."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid):
    kids, out, todo = children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def check(moment):
    api, engine, sqs, ws = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ, PORT=str(api), DYNAMODB_PORT=str(engine), SQS_PORT=str(sqs), WS_PORT=str(ws),
               DEV_DATA=":memory:", RUST_LOG="warn")
    log_path = os.path.join(ROOT, "target", f"stop-check-{moment}.log")
    log = open(log_path, "w")
    make = subprocess.Popen(["make", "dev"], cwd=ROOT, env=env, stdout=log, stderr=log,
                            start_new_session=True, preexec_fn=default_sigint)
    deadline = time.time() + 600
    seen = set()

    def ready():
        with open(log_path, errors="replace") as f:
            return "READY" in f.read().split()

    def engine_up():
        return not port_free(engine)

    wait_for = engine_up if moment == "starting" else ready
    while not wait_for():
        if make.poll() is not None or time.time() > deadline:
            print(open(log_path, errors="replace").read()[-3000:])
            raise SystemExit(f"check_stop ({moment}): the stack did not come up")
        seen.update(tree(make.pid))
        time.sleep(0.2)
    if moment == "starting":
        time.sleep(1.5)  # inside the start-up: the watcher is being started
    seen.update(tree(make.pid))
    seen.discard(make.pid)

    os.killpg(make.pid, signal.SIGINT)
    time.sleep(0.2)
    try:
        os.killpg(make.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    end = time.time() + 12
    while time.time() < end and (any(alive(p) for p in seen) or make.poll() is None):
        time.sleep(0.2)
    left = [p for p in seen if alive(p)]
    names = {p: command(p) for p in left}
    busy = [p for p in (api, engine, sqs, ws) if not port_free(p)]
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    if make.poll() is None:
        os.killpg(make.pid, signal.SIGKILL)
    make.wait()
    if left or busy:
        for p in left:
            print(f"  still running: {p} {names[p]}")
        raise SystemExit(f"check_stop ({moment}): processes left {left}, ports held {busy}")
    print(f"check_stop ({moment}): {len(seen)} processes stopped, ports free")


if __name__ == "__main__":
    for moment in sys.argv[1:] or ["starting", "ready"]:
        check(moment)

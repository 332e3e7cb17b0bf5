"""Soak: granian-ts under steady wrk load for a long run with recycling on, sampling the RSS
of the Bun process and of each Python worker every 10 s. Not a CI test (see bench/README.md).

    .venv/bin/python bench/soak.py --minutes 10 [--connections 32] [--workers 2]

Prints a line per sample and, at the end, the requests, errors and RSS at start and at end.
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BUN = ROOT / "node_modules" / ".bin" / "bun"


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError):
                pass
    return sorted(out)


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
        return int(m.group(1)) / 1024 if m else 0.0
    except OSError:
        return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--port", type=int, default=18777)
    ap.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    ap.add_argument("--recycle", default="--workers-lifetime 120 --workers-lifetime-jitter 60 --workers-max-requests 500000 --workers-max-requests-jitter 100000",
                    help="recycling options given to granian-ts")
    args = ap.parse_args()
    argv = [str(BUN), str(ROOT / "bin" / "granian-ts.mjs"), "serve", "--interface", "asgi", "--port", str(args.port),
            "--workers", str(args.workers), "--python", args.python, "--working-dir", str(BENCH),
            *args.recycle.split(), "bench_app:app"]
    log = open(BENCH / ".soak-server.log", "w")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "Listening at" not in (BENCH / ".soak-server.log").read_text():
            if time.monotonic() > deadline or server.poll() is not None:
                print("server did not start", file=sys.stderr)
                return 1
            time.sleep(0.1)
        seconds = int(args.minutes * 60)
        wrk = subprocess.Popen(["wrk", "-t2", f"-c{args.connections}", f"-d{seconds}s", f"http://127.0.0.1:{args.port}/"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        samples = []
        t0 = time.monotonic()
        while wrk.poll() is None:
            workers = [p for p in children(server.pid)]
            sample = (time.monotonic() - t0, rss_mib(server.pid), [(p, rss_mib(p)) for p in workers])
            samples.append(sample)
            print(f"{sample[0]:6.0f}s  bun {sample[1]:6.1f} MiB  workers " +
                  "  ".join(f"{p}:{r:.1f}" for p, r in sample[2]), flush=True)
            for _ in range(100):
                if wrk.poll() is not None:
                    break
                time.sleep(0.1)
        out = wrk.stdout.read()
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        failed = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)
        replaced = len(re.findall(r"replaced \(pid", (BENCH / ".soak-server.log").read_text()))
        first, last = samples[0], samples[-1]
        print(out)
        print(f"soak: {args.minutes:g} min, {args.workers} workers, {args.connections} connections, recycling: {args.recycle}")
        print(f"  requests {requests}, failed {failed}, workers replaced {replaced}")
        print(f"  RSS Bun: {first[1]:.1f} MiB at start, {last[1]:.1f} MiB at end")
        print(f"  RSS workers: {sum(r for _, r in first[2]):.1f} MiB at start, {sum(r for _, r in last[2]):.1f} MiB at end (sum)")
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())

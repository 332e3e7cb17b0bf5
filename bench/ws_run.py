"""Websocket benchmark: echo messages per second, granian-ts against Granian and uvicorn, all
serving bench/ws_app.py (ASGI) with one worker.

Each server starts on a free port in its own process group; the client (the `websockets`
package, in this process, on uvloop when importable) first checks an echo round trip, then
opens --clients websockets that each send a 64-byte text message and wait for its echo, as
fast as they can, for --seconds. Servers run round-robin over --rounds; the table reports the
median messages/s per server and the ratios of granian-ts to each.

    .venv/bin/python bench/ws_run.py [--clients 64] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from websockets.asyncio.client import connect

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BUN = ROOT / "node_modules" / ".bin" / "bun"
MESSAGE = "x" * 64


def servers(python: str, port: int) -> Dict[str, List[str]]:
    return {
        "granian-ts": [
            str(BUN), str(ROOT / "bin" / "granian-ts.mjs"), "serve", "--interface", "asgi",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--runtime-threads", "1",
            "--loop", "uvloop", "--log-level", "warning", "--python", python,
            "--working-dir", str(BENCH), "ws_app:app",
        ],
        "granian": [
            python, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--runtime-threads", "1", "--loop", "uvloop", "--log-level", "warning", "ws_app:app",
        ],
        "uvicorn": [
            python, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--loop", "uvloop", "--ws", "websockets", "--no-access-log", "--log-level", "warning", "ws_app:app",
        ],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("check")
                if await ws.recv() != "check":
                    raise SystemExit("the echo came back wrong")
                return
        except (OSError, asyncio.TimeoutError):
            if time.monotonic() > deadline:
                raise SystemExit(f"no server on port {port}")
            await asyncio.sleep(0.1)


async def measure(port: int, clients: int, seconds: float) -> float:
    counts = [0] * clients
    stop = time.monotonic() + seconds

    async def client(i: int) -> None:
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            while time.monotonic() < stop:
                await ws.send(MESSAGE)
                if await ws.recv() != MESSAGE:
                    raise SystemExit("the echo came back wrong")
                counts[i] += 1

    t0 = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return sum(counts) / (time.monotonic() - t0)


def run_one(name: str, argv: List[str], port: int, args: argparse.Namespace) -> float:
    proc = subprocess.Popen(argv, cwd=BENCH, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        asyncio.run(wait_ready(port))
        asyncio.run(measure(port, args.clients, 1.0))  # warm-up
        return asyncio.run(measure(port, args.clients, args.seconds))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    names = list(servers(args.python, 0))
    results: Dict[str, List[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            port = free_port()
            rate = run_one(name, servers(args.python, port)[name], port, args)
            results[name].append(rate)
            print(f"round {r + 1} {name:11} {rate:10.0f} msg/s", flush=True)
    print(f"\n{platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"{args.clients} clients, 64-byte text echo, {args.seconds:g} s x {args.rounds} rounds (medians)\n")
    medians = {n: statistics.median(v) for n, v in results.items()}
    print("| server | msg/s | granian-ts / server |\n|---|---|---|")
    for name in names:
        print(f"| {name} | {medians[name]:.0f} | {medians['granian-ts'] / medians[name]:.2f} |")


if __name__ == "__main__":
    main()

"""HTTP benchmark: granian-ts against Granian and uvicorn, all serving bench/bench_app.py
(ASGI), or with `--interface wsgi` against Granian and gunicorn (gthread), all serving
bench/wsgi_app.py, or with `--interface rsgi` against Granian, both serving bench/rsgi_app.py;
`--interface fastapi` runs the ASGI servers on bench/fastapi_app.py (a real framework).

Each server is started on a free port in its own process group, checked with real requests
(status and body), warmed up, then timed with wrk. Servers run round-robin (round 1: A B C,
round 2: B C A, ...) so drift of the machine hits every server alike; the table reports
medians over the rounds and the ratios of granian-ts to each competitor.

Standard library only (Python 3.9+). See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BUN = ROOT / "node_modules" / ".bin" / "bun"
POST_LUA = BENCH / "post.lua"

GET_BODY_SIZE = 1024
# What bench/fastapi_app.py answers to GET / (its pydantic model, as JSON).
FASTAPI_ITEM = {"id": 1, "name": "widget", "tags": ["a", "b", "c"], "price": 9.99}
FASTAPI_BODY_SIZE = len(json.dumps(FASTAPI_ITEM, separators=(",", ":")))
ECHO_BODY = bytes(range(256)) * 40  # 10 KiB, every byte value, to catch a body that is mangled
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
WARMUP_SECONDS = 2


# ---------------------------------------------------------------------------------------------
# Servers: name -> how to start it and how to ask its version. Adding one touches this table.


STATIC_DIR = BENCH / "static"
STATIC_FILE = "bench.css"  # 16 KiB, written by ensure_static_file()
STATIC_SIZE = 16 * 1024


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: Callable[[argparse.Namespace, int], List[str]]  # (args, port) -> argv
    version: Callable[[str], str]  # python -> version string
    cwd: Path = ROOT
    # Flags that serve STATIC_DIR at /static, for servers that serve static files themselves.
    static_args: Optional[List[str]] = None


def with_flags(spec: ServerSpec, suffix: str, *flags: str) -> ServerSpec:
    """The same server with extra flags (e.g. the access log on), compared with it in one run."""
    def argv(args, port: int) -> List[str]:
        base = spec.argv(args, port)
        # Before the positional APP, which stays the last argument (transport_argv relies on it).
        return base[:-1] + list(flags) + base[-1:]

    return ServerSpec(f"{spec.name}+{suffix}", argv, spec.version, spec.cwd, spec.static_args)


def _python_version_of(module: str) -> Callable[[str], str]:
    def get(python: str) -> str:
        code = f"import importlib.metadata as m; print(m.version({module!r}))"
        return _output([python, "-c", code]) or "not installed"

    return get


def _granian_ts_version(_python: str) -> str:
    version = json.loads((ROOT / "package.json").read_text())["version"]
    commit = _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _output(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "python", "cli"])
    return f"{version} ({commit}{'+dirty' if dirty else ''})" if commit else version


def _specs(*specs: ServerSpec, floors: bool = True) -> Dict[str, ServerSpec]:
    out = {spec.name: spec for spec in specs + (tuple(_floors()) if floors else ())}
    # granian-ts with its optional costs switched on, to measure them against itself (same run).
    base = out["granian-ts"]
    for extra in (
        with_flags(base, "access-log", "--access-log"),
        with_flags(base, "metrics", "--metrics", "--metrics-port", "0"),
        # The default --gc-freeze switched off: what freezing the loaded app saves.
        with_flags(base, "no-gc-freeze", "--no-gc-freeze"),
        # The workers on the pure-Python codec: what the C one (--speedups, default) saves.
        with_flags(base, "no-speedups", "--no-speedups"),
    ):
        out[extra.name] = extra
    # --task-impl rust (ASGI and RSGI: request coroutines without asyncio Tasks), on both sides.
    for name in ("granian-ts", "granian"):
        if name in out:
            extra = with_flags(out[name], "rust-tasks", "--task-impl", "rust")
            out[extra.name] = extra
    return out


_STATIC_ARGS = ["--static-path-route", "/static", "--static-path-mount", str(STATIC_DIR)]


def _floors() -> List[ServerSpec]:
    """A bare Bun.serve answering like the bench apps (bench/floor.ts): what Bun costs alone."""
    bun_version = lambda _python: _output([str(BUN), "--version"]) or "not found"
    return [
        ServerSpec("bun-floor", lambda args, port: [str(BUN), "bench/floor.ts", str(port)], bun_version),
        ServerSpec("bun-floor+ip", lambda args, port: [str(BUN), "bench/floor.ts", str(port), "ip"], bun_version),
    ]


def _embedded(interface: str, target: str) -> ServerSpec:
    """granian-ts's createHandler inside a plain Bun.serve (bench/embedded.ts), one worker."""
    return ServerSpec(
        "embedded",
        lambda args, port: [
            str(BUN), "bench/embedded.ts", interface, str(port), args.python, str(args.blocking_threads), target,
        ],
        _granian_ts_version,
    )


def _asgi_specs(target: str, floors: bool = True) -> Dict[str, ServerSpec]:
    """granian-ts, Granian and uvicorn serving the ASGI app `target` (module:attr in bench/)."""
    return _specs(
        ServerSpec(
            "granian-ts",
            lambda args, port: [
                str(ROOT / "bin" / "granian-ts"), "serve",
                "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--runtime-threads", "1", "--loop", "uvloop",
                "--log-level", "warning", "--python", args.python,
                "--working-dir", str(BENCH), target,
            ],
            _granian_ts_version,
            static_args=_STATIC_ARGS,
        ),
        _embedded("asgi", target),
        ServerSpec(
            "granian",
            lambda args, port: [
                args.python, "-m", "granian",
                "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--runtime-threads", "1", "--loop", "uvloop",
                "--no-ws", "--log-level", "warning", target,
            ],
            _python_version_of("granian"),
            cwd=BENCH,
            static_args=_STATIC_ARGS,
        ),
        ServerSpec(
            "uvicorn",
            lambda args, port: [
                args.python, "-m", "uvicorn",
                "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning", target,
            ],
            _python_version_of("uvicorn"),
            cwd=BENCH,
        ),
        floors=floors,
    )


# Per interface: the servers compared, granian-ts first (the ratios are granian-ts to each).
SERVERS_BY_INTERFACE: Dict[str, Dict[str, ServerSpec]] = {
    "asgi": _asgi_specs("bench_app:app"),
    # A real framework: a FastAPI JSON endpoint (bench/fastapi_app.py), same servers.
    "fastapi": _asgi_specs("fastapi_app:app", floors=False),  # the floors answer bench_app.py's bytes
    # One worker process each, running the app on --blocking-threads threads.
    "wsgi": _specs(
        ServerSpec(
            "granian-ts",
            lambda args, port: [
                str(ROOT / "bin" / "granian-ts"), "serve",
                "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--runtime-threads", "1", "--blocking-threads", str(args.blocking_threads),
                "--log-level", "warning", "--python", args.python,
                "--working-dir", str(BENCH), "wsgi_app:app",
            ],
            _granian_ts_version,
        ),
        _embedded("wsgi", "wsgi_app:app"),
        ServerSpec(
            "granian",
            lambda args, port: [
                args.python, "-m", "granian",
                "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--runtime-threads", "1", "--blocking-threads", str(args.blocking_threads),
                "--no-ws", "--log-level", "warning", "wsgi_app:app",
            ],
            _python_version_of("granian"),
            cwd=BENCH,
        ),
        ServerSpec(
            "gunicorn",
            lambda args, port: [
                args.python, "-m", "gunicorn",
                "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
                "--worker-class", "gthread", "--threads", str(args.blocking_threads),
                "--log-level", "warning", "wsgi_app:app",
            ],
            _python_version_of("gunicorn"),
            cwd=BENCH,
        ),
    ),
    # RSGI is Granian's own interface: no third server speaks it.
    "rsgi": _specs(
        ServerSpec(
            "granian-ts",
            lambda args, port: [
                str(ROOT / "bin" / "granian-ts"), "serve",
                "--interface", "rsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--runtime-threads", "1", "--loop", "uvloop",
                "--log-level", "warning", "--python", args.python,
                "--working-dir", str(BENCH), "rsgi_app:app",
            ],
            _granian_ts_version,
        ),
        _embedded("rsgi", "rsgi_app:app"),
        ServerSpec(
            "granian",
            lambda args, port: [
                args.python, "-m", "granian",
                "--interface", "rsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--runtime-threads", "1", "--loop", "uvloop",
                "--no-ws", "--log-level", "warning", "rsgi_app:app",
            ],
            _python_version_of("granian"),
            cwd=BENCH,
        ),
    ),
}


# ---------------------------------------------------------------------------------------------
# Transports: how the client reaches the server. Each server gets the transport's extra
# arguments (Granian's and granian-ts's spellings are the same); the timing client is wrk for
# HTTP/1.1 and h2load for HTTP/2. TLS runs use one certificate made for the run (openssl).


@dataclass(frozen=True)
class Transport:
    name: str
    tls: bool
    http2: bool
    about: str
    # Extra server arguments, by server name; a server missing here cannot do the transport.
    extra: Dict[str, List[str]]


def _tls_args(cert_dir: str) -> List[str]:
    return ["--ssl-certificate", f"{cert_dir}/cert.pem", "--ssl-keyfile", f"{cert_dir}/key.pem"]


TRANSPORTS: Dict[str, Transport] = {
    "h1": Transport("h1", False, False, "HTTP/1.1, cleartext (wrk)", {}),
    "h2c": Transport("h2c", False, True, "HTTP/2 prior knowledge, cleartext (h2load)",
                     {"granian-ts": [], "granian": ["--http", "2"]}),
    "https": Transport("https", True, False, "HTTP/1.1 over TLS 1.3 (wrk)",
                       {"granian-ts": ["{tls}"], "granian": ["{tls}"]}),
    "h2": Transport("h2", True, True, "HTTP/2 over TLS 1.3, ALPN (h2load)",
                    {"granian-ts": ["{tls}"], "granian": ["{tls}"]}),
}


def make_cert(d: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )


def transport_argv(args, spec: "ServerSpec", port: int) -> List[str]:
    argv = spec.argv(args, port)
    extra = args.transport.extra.get(spec.name.split("+")[0], []) if args.transport.name != "h1" else []
    out: List[str] = []
    for a in extra:
        out += _tls_args(args.cert_dir) if a == "{tls}" else [a]
    # Before the positional APP (the last argument of every server's argv).
    return argv[:-1] + out + argv[-1:]


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    script: Optional[Path]
    body_size: int  # expected response body size, for the bytes-per-response sanity check
    about: str
    static: bool = False  # served from STATIC_DIR: only servers with static_args run it


SCENARIOS: Dict[str, Scenario] = {
    "get": Scenario("get", "/", None, GET_BODY_SIZE, "GET / -> 1 KiB body"),
    "post": Scenario("post", "/echo", POST_LUA, 10240, "POST /echo, 10 KiB body echoed back"),
    # An app that waits (a query, an HTTP call): what the server's threads or tasks make of it.
    "wait": Scenario("wait", "/wait", None, GET_BODY_SIZE, "GET /wait -> 1 KiB body after the app waits 1 ms"),
    "static": Scenario("static", f"/static/{STATIC_FILE}", None, STATIC_SIZE,
                       f"GET /static/{STATIC_FILE} -> 16 KiB file served by the server itself (--static-path-mount)",
                       static=True),
}


def ensure_static_file() -> None:
    STATIC_DIR.mkdir(exist_ok=True)
    path = STATIC_DIR / STATIC_FILE
    data = (b"body { color: #123456; }\n" * (STATIC_SIZE // 25 + 1))[:STATIC_SIZE]
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


# ---------------------------------------------------------------------------------------------
# Processes: every child goes in its own process group and is remembered, so one killpg per
# child cleans up its whole tree (Python workers included) at the end, on error or on Ctrl-C.

_children: List[subprocess.Popen] = []


def _output(argv: List[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def spawn(argv: List[str], cwd: Path, log) -> subprocess.Popen:
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _children.append(proc)
    return proc


def stop(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after `timeout`."""
    if proc not in _children:
        return
    try:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # The leader may be gone while workers of its group linger: kill the group regardless.
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    _children.remove(proc)


def stop_all() -> None:
    for proc in list(_children):
        stop(proc, timeout=3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Memory: the RSS of the whole process tree (a Bun server and its Python workers, Granian's
# supervisor and worker). Shared pages are counted once per process, as `ps` does.


def _children_map() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parens: fields resume after the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss_kib(pid: int) -> int:
    tree = _children_map()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(tree.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


# ---------------------------------------------------------------------------------------------
# Checks: a server is timed only after it answered correctly.


class CheckFailed(Exception):
    pass


def _request(port: int, method: str, path: str, body: Optional[bytes] = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"content-type": "application/octet-stream"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _curl(args, port: int, method: str, path: str, body: Optional[bytes] = None):
    """A request over the run's transport (TLS, HTTP/2), by curl: (status, body)."""
    t = args.transport
    scheme = "https" if t.tls else "http"
    argv = ["curl", "-s", "-k", "--max-time", "5", "-X", method, "-o", "-", "-w", "\n%{http_code} %{http_version}"]
    argv.append(("--http2" if t.tls else "--http2-prior-knowledge") if t.http2 else "--http1.1")
    if body is not None:
        argv += ["-H", "content-type: application/octet-stream", "--data-binary", "@-"]
    out = subprocess.run(argv + [f"{scheme}://127.0.0.1:{port}{path}"], input=body or b"", capture_output=True, timeout=10)
    if out.returncode != 0:
        raise OSError(f"curl exited with {out.returncode}")
    data, _, tail = out.stdout.rpartition(b"\n")
    status, version = tail.decode().split()
    if version != ("2" if t.http2 else "1.1"):
        raise CheckFailed(f"answered over HTTP/{version}, not the transport's {'HTTP/2' if t.http2 else 'HTTP/1.1'}")
    return int(status), data


def request(args, port: int, method: str, path: str, body: Optional[bytes] = None):
    if args.transport.name == "h1":
        return _request(port, method, path, body)
    return _curl(args, port, method, path, body)


def wait_ready(args, proc: subprocess.Popen, port: int, timeout: float = READY_TIMEOUT) -> float:
    """Poll with a real request until the server answers; returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise CheckFailed(f"exited with status {proc.returncode} before answering")
        try:
            request(args, port, "GET", "/")
            return time.monotonic() - t0
        except (OSError, http.client.HTTPException, subprocess.SubprocessError, ValueError):
            pass
        if time.monotonic() - t0 > timeout:
            raise CheckFailed(f"no answer on port {port} after {timeout:.0f}s")
        time.sleep(0.05)


def check_static(args, port: int) -> None:
    status, body = request(args, port, "GET", f"/static/{STATIC_FILE}")
    if status != 200 or body != (STATIC_DIR / STATIC_FILE).read_bytes():
        raise CheckFailed(f"GET /static/{STATIC_FILE} answered {status} with {len(body)} bytes (want 200 and the file)")


def check_responses(args, port: int) -> None:
    status, body = request(args, port, "GET", "/")
    if args.interface == "fastapi":
        try:
            item = json.loads(body)
        except ValueError:
            item = None
        if status != 200 or item != FASTAPI_ITEM:
            raise CheckFailed(f"GET / answered {status} with {body[:80]!r} (want 200 and {FASTAPI_ITEM})")
    elif status != 200 or body != b"x" * GET_BODY_SIZE:
        raise CheckFailed(f"GET / answered {status} with {len(body)} bytes (want 200, {GET_BODY_SIZE} bytes of 'x')")
    status, body = request(args, port, "POST", "/echo", ECHO_BODY)
    if status != 200 or body != ECHO_BODY:
        raise CheckFailed(f"POST /echo answered {status} with {len(body)} bytes (want 200 and the {len(ECHO_BODY)} bytes sent)")


# ---------------------------------------------------------------------------------------------
# wrk


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_SIZE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unknown wrk duration {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(out: str) -> dict:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read", out, re.M)
    if not (rps and p99 and total):
        raise ValueError("could not parse wrk output:\n" + out)
    requests = int(total.group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    read = float(total.group(2)) * _SIZE.get(total.group(3), 1)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)) if p50 else None,
        "p99_ms": _ms(p99.group(1)),
        "requests": requests,
        "errors": errors,
        "bytes_per_response": read / requests if requests else 0.0,
    }


def run_wrk(args, port: int, scenario: Scenario, seconds: int) -> dict:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
    if scenario.script:
        argv += ["-s", str(scenario.script)]
    argv.append(f"{'https' if args.transport.tls else 'http'}://127.0.0.1:{port}{scenario.path}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    _children.append(proc)
    try:
        out, _ = proc.communicate(timeout=seconds + 30)
    finally:
        stop(proc, timeout=1)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with status {proc.returncode}:\n{out}")
    return parse_wrk(out)


# ---------------------------------------------------------------------------------------------
# h2load (HTTP/2): --streams concurrent streams on each of --connections connections.


def parse_h2load(out: str) -> dict:
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    traffic = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?\((\d+)\) data", out)
    # "time for request:" min max mean sd; h2load prints no percentiles, the max stands in for p99.
    latency = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
    if not (rps and done and codes and latency):
        raise ValueError("could not parse h2load output:\n" + out)
    requests = int(done.group(2))
    errors = sum(int(x) for x in done.groups()[2:]) + sum(int(x) for x in codes.groups()[2:])
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(latency.group(3)),
        "p99_ms": _ms(latency.group(2)),
        "requests": requests,
        "errors": errors,
        "bytes_per_response": int(traffic.group(3)) / requests if traffic and requests else 0.0,
    }


def run_h2load(args, port: int, scenario: Scenario, seconds: int) -> dict:
    scheme = "https" if args.transport.tls else "http"
    argv = ["h2load", "-D", str(seconds), "-c", str(args.connections), "-m", str(args.streams), "-t", str(args.threads)]
    if scenario.script:
        argv += ["-d", str(args.echo_file), "-H", "content-type: application/octet-stream"]
    argv.append(f"{scheme}://127.0.0.1:{port}{scenario.path}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    _children.append(proc)
    try:
        out, _ = proc.communicate(timeout=seconds + 30)
    finally:
        stop(proc, timeout=1)
    if proc.returncode != 0:
        raise RuntimeError(f"h2load exited with status {proc.returncode}:\n{out}")
    return parse_h2load(out)


def run_load(args, port: int, scenario: Scenario, seconds: int) -> dict:
    if args.transport.http2:
        return run_h2load(args, port, scenario, seconds)
    return run_wrk(args, port, scenario, seconds)


# ---------------------------------------------------------------------------------------------
# CPU: user + system time of the whole process tree, from /proc (clock ticks).

_TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def _side_of(p: int) -> str:
    """Which side of the server a process is: "bun", "python" or "other" (the npx shim, a shell)."""
    try:
        exe = os.path.basename(os.readlink(f"/proc/{p}/exe"))
    except OSError:
        return "other"
    if exe.startswith("bun"):
        return "bun"
    return "python" if exe.startswith("python") else "other"


def tree_cpu_by_side(pid: int) -> Dict[str, float]:
    """User + system µs of every process of the tree, summed by side (see `_side_of`)."""
    tree = _children_map()
    sides: Dict[str, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(tree.get(p, []))
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
        side = _side_of(p)
        sides[side] = sides.get(side, 0.0) + ticks * _TICK_US
    return sides


def tree_cpu_us(pid: int) -> float:
    return sum(tree_cpu_by_side(pid).values())


# ---------------------------------------------------------------------------------------------
# Machine


def machine_info(python: str, servers: List[str], specs: Dict[str, ServerSpec]) -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    wrk_version = (_output(["sh", "-c", "wrk -v 2>&1"]).splitlines() or ["unknown"])[0].split(" Copyright")[0]
    info = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "bun": _output([str(BUN), "--version"]) or "not found",
        "python": _output([python, "-c", "import sys; print(sys.version.split()[0])"]) or "not found",
        "wrk": wrk_version,
        "servers": {name: specs[name].version(python) for name in servers},
    }
    return info


def print_machine(info: dict) -> None:
    print("machine")
    print(f"  cpu        {info['nproc']} x {info['cpu']}")
    print(f"  kernel     {info['kernel']}   (load average at start: {info['loadavg']})")
    print(f"  bun        {info['bun']}")
    print(f"  python     {info['python']}")
    print(f"  wrk        {info['wrk']}")
    for name, version in info["servers"].items():
        print(f"  {name:<10} {version}")
    print()


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Result:
    runs: Dict[str, List[dict]] = field(default_factory=dict)  # scenario -> wrk results (+rss)
    failures: List[str] = field(default_factory=list)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("      | " + line for line in text[-lines:])


def bench_server(args, spec: ServerSpec, scenarios: List[Scenario], logdir: Path, rnd: int) -> dict:
    """Start one server, check it, time every scenario, stop it. Returns scenario -> run."""
    port = free_port()
    logpath = logdir / f"{spec.name}.round{rnd}.log"
    static = any(sc.static for sc in scenarios)
    scenarios = [sc for sc in scenarios if not sc.static or spec.static_args]
    argv = transport_argv(args, spec, port)
    if static and spec.static_args:
        argv = argv[:-1] + spec.static_args + argv[-1:]  # the app target stays last
    with open(logpath, "wb") as log:
        proc = spawn(argv, spec.cwd, log)
    try:
        try:
            ready = wait_ready(args, proc, port)
            check_responses(args, port)
            if static and spec.static_args:
                check_static(args, port)
        except CheckFailed as err:
            tail = log_tail(logpath)
            raise CheckFailed(f"{err}" + (f"\n{tail}" if tail else "")) from None
        print(f"    {spec.name:<10} ready in {ready:.2f}s, responses checked", flush=True)
        out = {}
        for sc in scenarios:
            run_load(args, port, sc, WARMUP_SECONDS)
            cpu0 = tree_cpu_by_side(proc.pid)
            r = run_load(args, port, sc, args.duration)
            cpu1 = tree_cpu_by_side(proc.pid)
            n = r["requests"] or 1
            # Per side (Bun threads, Python workers): where a server of two runtimes spends it.
            r["cpu_us_by_side"] = {side: (cpu1[side] - cpu0.get(side, 0.0)) / n for side in cpu1}
            r["cpu_us_per_request"] = sum(r["cpu_us_by_side"].values()) if r["requests"] else 0.0
            r["rss_kib"] = tree_rss_kib(proc.pid)
            if proc.poll() is not None:
                raise CheckFailed(f"exited with status {proc.returncode} during the {sc.name} run")
            flag = ""
            if r["errors"]:
                flag += f"  ({r['errors']} errors)"
            if r["bytes_per_response"] < (FASTAPI_BODY_SIZE if args.interface == "fastapi" and sc.name == "get" else sc.body_size):
                flag += f"  (only {r['bytes_per_response']:.0f} bytes per response)"
            sides = r["cpu_us_by_side"]
            split = (
                "  (" + ", ".join(f"{k} {v:.1f}" for k, v in sorted(sides.items()) if v >= 0.05) + ")"
                if len([v for v in sides.values() if v >= 0.05]) > 1 else ""
            )
            print(
                f"    {spec.name:<10} {sc.name:<5} {r['rps']:>10.0f} req/s  cpu {r['cpu_us_per_request']:>6.1f} us/req{split}  "
                f"p99 {r['p99_ms']:>7.2f} ms  "
                f"rss {r['rss_kib'] / 1024:>6.1f} MiB{flag}",
                flush=True,
            )
            out[sc.name] = r
        return out
    finally:
        stop(proc)


def summarize(results: Dict[str, Result], scenarios: List[Scenario]) -> dict:
    summary: dict = {}
    for sc in scenarios:
        rows = {}
        for name, res in results.items():
            runs = [r for r in res.runs.get(sc.name, []) if not r["errors"]]
            if not runs:
                rows[name] = {"failed": bool(res.failures or res.runs), "reasons": res.failures}
                continue
            rps = [r["rps"] for r in runs]
            rows[name] = {
                "failed": False,
                "runs": len(runs),
                "rps_median": statistics.median(rps),
                "rps_min": min(rps),
                "rps_max": max(rps),
                "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
                "cpu_us_median": statistics.median(r["cpu_us_per_request"] for r in runs),
                "cpu_us_by_side_median": {
                    side: statistics.median(r["cpu_us_by_side"].get(side, 0.0) for r in runs)
                    for side in sorted({k for r in runs for k in r["cpu_us_by_side"]})
                },
                "rss_mib_max": max(r["rss_kib"] for r in runs) / 1024,
                "errored_runs": len(res.runs.get(sc.name, [])) - len(runs),
                "failed_rounds": len(res.failures),
            }
        summary[sc.name] = rows
    return summary


def print_summary(summary: dict, args, scenarios: List[Scenario]) -> None:
    for sc in scenarios:
        rows = summary[sc.name]
        print(
            f"\n{sc.name}: {sc.about}  "
            f"({args.interface}, {args.workers} worker(s), {args.transport.about}, "
            + (f"h2load -c{args.connections} -m{args.streams}" if args.transport.http2 else f"wrk -t{args.threads} -c{args.connections}")
            + f" -d{args.duration}s, {args.rounds} round(s), medians)"
        )
        header = f"  {'server':<12}{'req/s':>10}  {'min-max req/s':>17}  {'CPU us/req':>10}  {'p99 ms':>8}  {'max RSS MiB':>11}  runs"
        print(header)
        print("  " + "-" * (len(header) - 2))
        for name, row in rows.items():
            if "rps_median" not in row:
                print(f"  {name:<12}{'failed' if row['failed'] else 'not run':>10}")
                continue
            spread = f"{row['rps_min']:.0f}-{row['rps_max']:.0f}"
            runs = f"{row['runs']}"
            if row["errored_runs"]:
                runs += f" (+{row['errored_runs']} with errors, left out)"
            if row["failed_rounds"]:
                runs += f" (+{row['failed_rounds']} failed)"
            sides = {k: v for k, v in row["cpu_us_by_side_median"].items() if v >= 0.05}
            if len(sides) > 1:
                runs += "   CPU us/req by side: " + ", ".join(f"{k} {v:.1f}" for k, v in sides.items())
            print(
                f"  {name:<12}{row['rps_median']:>10.0f}  {spread:>17}  {row['cpu_us_median']:>10.1f}  {row['p99_ms_median']:>8.2f}  "
                f"{row['rss_mib_max']:>11.1f}  {runs}"
            )
        base = rows.get("granian-ts")
        if base and "rps_median" in base:
            for other, row in rows.items():
                if other == "granian-ts" or "rps_median" not in row:
                    continue
                print(
                    f"  granian-ts/{other:<8} req/s x{base['rps_median'] / row['rps_median']:.2f}   "
                    f"CPU/req x{base['cpu_us_median'] / row['cpu_us_median']:.2f}   "
                    f"p99 x{base['p99_ms_median'] / row['p99_ms_median']:.2f}   "
                    f"RSS x{base['rss_mib_max'] / row['rss_mib_max']:.2f}"
                )


def _sigterm_as_interrupt(signum, frame):
    # SIGTERM (a CI timeout, `kill`) takes the same cleanup path as Ctrl-C.
    raise KeyboardInterrupt


def parse_args(argv: Optional[List[str]] = None):
    p = argparse.ArgumentParser(
        description="Benchmark granian-ts against Granian and uvicorn (ASGI), Granian and gunicorn (WSGI) or Granian (RSGI); see bench/README.md."
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds; every server runs once per round (default 3)")
    p.add_argument("--duration", type=int, default=10, help="seconds of each timed wrk run (default 10)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--workers", type=int, default=1, help="worker processes of every server (default 1; embedded keeps 1)")
    p.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all",
                   help="all: get and post; wait: GET of a response the app waits 1 ms for; static: a file served "
                   "by the server itself, granian-ts against Granian (both started with --static-path-mount "
                   "bench/static); default all")
    p.add_argument("--transport", choices=list(TRANSPORTS), default="h1",
                   help="; ".join(f"{t.name}: {t.about}" for t in TRANSPORTS.values()) + " (default h1; "
                   "h2c and TLS runs compare granian-ts with Granian only)")
    p.add_argument("--streams", type=int, default=100, help="HTTP/2: concurrent streams per connection (h2load -m; default 100)")
    p.add_argument("--interface", choices=list(SERVERS_BY_INTERFACE), default="asgi",
                   help="asgi: granian-ts, granian, uvicorn on bench_app.py; fastapi: the same on fastapi_app.py "
                   "(GET: a JSON endpoint); wsgi: granian-ts, granian, "
                   "gunicorn (gthread) on wsgi_app.py; rsgi: granian-ts, granian on rsgi_app.py (default asgi)")
    p.add_argument("--blocking-threads", type=int, default=8,
                   help="WSGI: app threads of every server (--blocking-threads, gunicorn --threads; default 8)")
    p.add_argument("--servers", help="comma-separated (default: all of the interface's): " + "; ".join(
        f"{name}: {', '.join(specs)}" for name, specs in SERVERS_BY_INTERFACE.items()))
    p.add_argument(
        "--python",
        default=os.environ.get("BENCH_PYTHON", str(ROOT / ".venv" / "bin" / "python")),
        help="Python that runs the apps and has the servers (env BENCH_PYTHON; default .venv/bin/python)",
    )
    p.add_argument("--json", metavar="OUT", help="also write machine, raw runs and summary as JSON")
    args = p.parse_args(argv)
    args.specs = SERVERS_BY_INTERFACE[args.interface]
    args.transport = TRANSPORTS[args.transport]
    # A variant (granian-ts+metrics) goes wherever its server goes.
    able = [n for n in args.specs if args.transport.name == "h1" or n.split("+")[0] in args.transport.extra]
    # The +access-log/+metrics variants and the Bun floors only when asked.
    default = ",".join(n for n in able if "+" not in n and not n.startswith("bun-floor"))
    args.servers = [s.strip() for s in (args.servers or default).split(",") if s.strip()]
    if any(s not in able for s in args.servers if s in args.specs):
        p.error(f"--transport {args.transport.name} is run by: {', '.join(able)}")
    unknown = [s for s in args.servers if s not in args.specs]
    if unknown:
        p.error(f"unknown server(s): {', '.join(unknown)}")
    if args.rounds < 1 or args.duration < 1 or args.connections < 1 or args.threads < 1 or args.blocking_threads < 1:
        p.error("--rounds, --duration, --connections, --threads and --blocking-threads must be at least 1")
    if args.connections < args.threads:
        p.error("--connections must be at least --threads (wrk needs a connection per thread)")
    if not Path(args.python).exists() and not shutil.which(args.python):
        p.error(f"python {args.python} not found: run `sh scripts/setup.sh` or pass --python / BENCH_PYTHON")
    args.python = str(Path(args.python).absolute()) if Path(args.python).exists() else shutil.which(args.python)
    tool = "h2load" if args.transport.http2 else "wrk"
    if not shutil.which(tool):
        p.error(f"{tool} not found (Debian/Ubuntu: apt-get install {'nghttp2-client' if tool == 'h2load' else 'wrk'})")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    scenarios = [SCENARIOS["get"], SCENARIOS["post"]] if args.scenario == "all" else [SCENARIOS[args.scenario]]
    if any(sc.static for sc in scenarios):
        ensure_static_file()
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    # Also when started in the background, where SIGINT comes in ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    info = machine_info(args.python, args.servers, args.specs)
    print_machine(info)
    results = {name: Result() for name in args.servers}
    raw = []
    logdir = Path(tempfile.mkdtemp(prefix="granian-ts-bench-"))
    args.cert_dir = str(logdir)
    if args.transport.tls:
        make_cert(logdir)  # one certificate for every server of the run
    args.echo_file = logdir / "echo.bin"
    args.echo_file.write_bytes(ECHO_BODY)
    interrupted = False
    try:
        n = len(args.servers)
        for rnd in range(args.rounds):
            # Rotate the order each round so no server always runs first (or right after another).
            order = args.servers[rnd % n :] + args.servers[: rnd % n]
            print(f"round {rnd + 1}/{args.rounds}: {', '.join(order)}", flush=True)
            for name in order:
                try:
                    runs = bench_server(args, args.specs[name], scenarios, logdir, rnd + 1)
                except CheckFailed as err:
                    msg = f"round {rnd + 1}: {err}"
                    results[name].failures.append(msg)
                    print(f"    {name:<10} FAILED (not timed): {err}", flush=True)
                    continue
                except RuntimeError as err:  # wrk itself failed
                    results[name].failures.append(f"round {rnd + 1}: {err}")
                    print(f"    {name:<10} FAILED: {err}", flush=True)
                    continue
                for sc_name, r in runs.items():
                    results[name].runs.setdefault(sc_name, []).append(r)
                    raw.append({"round": rnd + 1, "server": name, "scenario": sc_name, **r})
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping servers; results so far follow", flush=True)
    finally:
        stop_all()

    summary = summarize(results, scenarios)
    print_summary(summary, args, scenarios)
    print(f"\nserver logs: {logdir}")
    if args.json:
        payload = {
            "machine": info,
            "config": {
                k: getattr(args, k)
                for k in ("interface", "blocking_threads", "rounds", "duration", "connections", "threads", "scenario",
                          "servers", "python", "streams")
            } | {"transport": args.transport.name},
            "runs": raw,
            "failures": {name: r.failures for name, r in results.items() if r.failures},
            "summary": summary,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"json: {args.json}")
    if interrupted:
        return 130
    return 1 if any(row["failed"] for rows in summary.values() for row in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

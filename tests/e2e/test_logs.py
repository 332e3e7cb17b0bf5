"""Logs: the access log in Granian's format language, JSON logs, --no-log, --log-config."""
import concurrent.futures
import json
import re
import socket
import subprocess
import time

import httpx

from _server import Server

# Granian's default: '[%(time)s] %(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f'
DEFAULT_LINE = re.compile(
    r'^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\] (\S+) - "(\S+) (\S+) (HTTP/[\d.]+)" (\d{3}) (\d+\.\d{3})$'
)


def access_lines(server, pattern=DEFAULT_LINE):
    return [m for m in (pattern.match(line.rstrip("\n")) for line in server.lines) if m]


def wait_lines(server, n, pattern=DEFAULT_LINE, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = access_lines(server, pattern)
        if len(found) >= n:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{len(access_lines(server, pattern))} access lines, want {n}:\n{server.log}")


def test_default_format_is_granians(make_server, tmp_path):
    (tmp_path / "f.txt").write_bytes(b"static")
    s = make_server("raw_asgi:app", args=["--access-log", "--static-path-mount", str(tmp_path)])
    httpx.get(s.url + "/scope?a=1")
    httpx.get(s.url + "/nope")
    httpx.get(s.url + "/static/f.txt")
    lines = wait_lines(s, 3)
    got = [(m[2], m[3], m[4], m[5], m[6]) for m in lines]
    assert got == [("127.0.0.1", "GET", "/scope", "HTTP/1.1", "200"), ("127.0.0.1", "GET", "/nope", "HTTP/1.1", "404"),
                   ("127.0.0.1", "GET", "/static/f.txt", "HTTP/1.1", "200")]
    assert all(float(m[7]) >= 0 for m in lines)


def test_every_atom(make_server):
    fmt = ("%(addr)s|%(time)s|%(dt_ms).1f|%(status)d|%(path)s|%(query_string)s|%(method)s|%(scheme)s|%(protocol)s|"
           "%(size)s|%(user_agent)s|%(header{x-trace})s|%(status)5d|100%%")
    s = make_server("raw_asgi:app", args=["--access-log", "--access-log-fmt", fmt])
    httpx.post(s.url + "/echo?q=v&w=1", content=b"12345", headers={"user-agent": "tester/1", "x-trace": "abc"})
    httpx.get(s.url + "/stream")  # streamed: size not known up front
    pat = re.compile(r"^127\.0\.0\.1\|.+\|\d+\.\d\|\d{3}\|.*\|100%$")
    lines = wait_lines(s, 2, pat)
    first = lines[0].group(0).split("|")
    assert first[0] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", first[1])
    assert first[3:] == ["200", "/echo", "q=v&w=1", "POST", "http", "HTTP/1.1", "5", "tester/1", "abc", "  200", "100%"]
    second = lines[1].group(0).split("|")
    assert second[4] == "/stream" and second[9] == "-" and second[11] == "-"


def test_all_lines_arrive_under_load(make_server):
    s = make_server("raw_asgi:app", args=["--access-log", "--access-log-fmt", "ACCESS %(path)s %(status)d"])
    n = 1500
    with httpx.Client(base_url=s.url, limits=httpx.Limits(max_connections=16)) as c:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda i: c.get(f"/scope?i={i}").status_code, range(n)))
    assert statuses == [200] * n
    pat = re.compile(r"^ACCESS /scope 200$")
    wait_lines(s, n, pat)
    s.stop()
    assert len(access_lines(s, pat)) == n


def test_json_logs(make_server):
    s = make_server("raw_asgi:app", args=["--access-log", "--log-format", "json"])
    httpx.get(s.url + "/scope?z=9", headers={"user-agent": "json/1"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and '"type":"access"' not in s.log:
        time.sleep(0.02)
    s.stop()
    records = [json.loads(line) for line in s.lines if line.strip()]  # every line is one JSON object
    access = [r for r in records if r.get("type") == "access"]
    assert len(access) == 1
    a = access[0]
    assert {k: a[k] for k in ("addr", "method", "path", "query_string", "status", "scheme", "protocol", "user_agent")} == {
        "addr": "127.0.0.1", "method": "GET", "path": "/scope", "query_string": "z=9", "status": 200,
        "scheme": "http", "protocol": "HTTP/1.1", "user_agent": "json/1"}
    assert a["size"] > 0 and a["dt_ms"] >= 0
    server_lines = [r for r in records if r.get("logger") == "granian-ts"]
    assert any("Listening at" in r["message"] for r in server_lines)
    assert any(r["logger"].startswith("granian_ts") for r in records)  # the Python worker's lines too
    assert all({"time", "level", "message"} <= r.keys() for r in records if r.get("type") != "access")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_log(tmp_path):
    port = free_port()
    s = Server("raw_asgi:app", args=["--no-log", "--access-log"])
    s.argv[s.argv.index("--port") + 1] = str(port)
    p = subprocess.Popen(s.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=s.env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/scope").status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and p.poll() is None
                time.sleep(0.05)
    finally:
        p.terminate()
        out = p.communicate(timeout=30)[0]
    assert p.returncode == 0
    assert out == b"", out


def test_log_config(make_server, tmp_path):
    cfg = tmp_path / "log.json"
    cfg.write_text(json.dumps({
        "version": 1,
        "formatters": {"app": {"format": "APPLOG %(name)s %(message)s"}},
        "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "app", "stream": "ext://sys.stderr"}},
        "loggers": {"granian.access": {"level": "WARNING"}, "granian_ts.lifespan": {"handlers": ["h"], "level": "INFO"}},
    }))
    s = make_server("raw_asgi:app", args=["--access-log", "--log-config", str(cfg)])
    httpx.get(s.url + "/scope")
    s.stop()
    assert "GET /scope" not in s.log  # granian.access above INFO: no access log
    assert "APPLOG granian_ts.lifespan" in s.log  # the dictConfig reached the worker's logging


def test_bad_log_options(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{nope")
    cases = [
        (["--log-config", str(tmp_path / "missing.json")], "--log-config"),
        (["--log-config", str(bad_json)], "--log-config"),
        (["--access-log-fmt", "%(nope)s"], "--access-log-fmt"),
        (["--access-log-fmt", "%s"], "--access-log-fmt"),
        (["--log-format", "xml"], "--log-format"),
    ]
    for args, name in cases:
        s = Server("raw_asgi:app", args=args)
        p = subprocess.run(s.argv, capture_output=True, text=True, timeout=30)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert name in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr

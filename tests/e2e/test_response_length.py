"""The app's content-length survives a body sent in several messages, HEAD keeps what the app
declared and claims nothing it did not, and a body that does not match its length is cut.
Each framework case is compared with what uvicorn and Granian send for the same app."""
import os
import socket
import subprocess
import sys
import time

import pytest

from _server import APPS, Server

HOLD_LIMIT = 4 * 1024 * 1024  # src/_response.ts
SMALL = 300_000
BIG = 6 * 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Competitor:
    """uvicorn or Granian serving the same app, ready once its port accepts connections."""

    def __init__(self, argv, env):
        self.port = free_port()
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(argv, cwd=APPS, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{argv} exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{argv} did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def exchange(port, method, path, timeout=10):
    """One request on a fresh connection: (status, headers dict, body, complete). `complete` is
    False when the connection closed (or stalled) before the body its framing announced."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                b = b""
            if not b:  # closed (cut) before a whole head
                return None, {}, b"", False
            buf += b
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()

        def more():
            try:
                return s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return b""

        if method == "HEAD" or status in (204, 304):
            return status, headers, b"", True
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(rest) < n:
                b = more()
                if not b:
                    return status, headers, rest, False
                rest += b
            return status, headers, rest[:n], len(rest) == n
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in rest:
                    b = more()
                    if not b:
                        return status, headers, body, False
                    rest += b
                size_line, rest = rest.split(b"\r\n", 1)
                size = int(size_line, 16)
                while len(rest) < size + 2:
                    b = more()
                    if not b:
                        return status, headers, body, False
                    rest += b
                if size == 0:
                    return status, headers, body, True
                body += rest[:size]
                rest = rest[size + 2:]
        return status, headers, rest, True


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lengths"))


_servers = {}


@pytest.fixture(scope="module")
def servers(data_dir):
    """servers(target, interface) -> {"granian-ts": port, "uvicorn": port, "granian": port}."""
    started = []
    env = {"LENGTHS_DATA": data_dir}

    def get(target, interface):
        key = (target, interface)
        if key not in _servers:
            ours = Server(f"lengths_apps:{target}", interface=interface, env=env).start()
            started.append(ours)
            ports = {"granian-ts": ours.port}
            py = sys.executable
            if interface == "asgi":
                uv = Competitor([py, "-m", "uvicorn", "--port", "{port}", "--log-level", "warning",
                                 f"lengths_apps:{target}"], env)
                started.append(uv)
                ports["uvicorn"] = uv.port
            gr = Competitor([py, "-m", "granian", "--interface", interface, "--port", "{port}",
                             "--log-level", "warning", f"lengths_apps:{target}"], env)
            started.append(gr)
            ports["granian"] = gr.port
            _servers[key] = ports
        return _servers[key]

    yield get
    _servers.clear()
    for s in started:
        s.stop()


FRAMEWORK_CASES = [
    ("fastapi_app", "asgi", "/json"),  # FastAPI behind @app.middleware("http")
    ("fastapi_app", "asgi", "/item?n=x"),  # a 422 behind the middleware
    ("fastapi_app", "asgi", "/file"),
    ("starlette_app", "asgi", "/file"),  # Starlette FileResponse behind BaseHTTPMiddleware
    ("flask_app", "wsgi", "/file"),  # Flask send_file
    ("django_app", "wsgi", "/file"),  # Django FileResponse
    ("wsgi_iterable", "wsgi", "/"),  # a WSGI file iterable with its content-length
]


@pytest.mark.parametrize("target,interface,path", FRAMEWORK_CASES)
def test_content_length_of_a_body_in_several_messages_is_kept(servers, target, interface, path):
    ports = servers(target, interface)
    ours = exchange(ports["granian-ts"], "GET", path)
    for name, port in ports.items():
        theirs = exchange(port, "GET", path)
        assert theirs[3] and theirs[0] == ours[0], name
        assert "content-length" in theirs[1], name  # what users get from uvicorn and Granian
        assert ours[1].get("content-length") == theirs[1]["content-length"], name
        assert "transfer-encoding" not in ours[1]
        assert ours[2] == theirs[2] and ours[3], name


@pytest.mark.parametrize("target,interface,path", FRAMEWORK_CASES)
def test_head_keeps_the_declared_length(servers, target, interface, path):
    ports = servers(target, interface)
    ours = exchange(ports["granian-ts"], "HEAD", path)
    for name, port in ports.items():
        theirs = exchange(port, "HEAD", path)
        assert ours[0] == theirs[0], name
        if target == "flask_app" and name == "granian":
            continue  # Granian's WSGI HEAD drops the file's length (Flask sends one)
        assert ours[1].get("content-length") == theirs[1].get("content-length"), name


def test_head_of_an_empty_body_without_length_claims_no_length(servers):
    ports = servers("raw", "asgi")
    for name, port in ports.items():
        status, headers, _, _ = exchange(port, "HEAD", "/nolen")
        assert status == 200 and "content-length" not in headers, name
    _, headers, _, _ = exchange(ports["granian-ts"], "HEAD", "/headlen")
    assert headers.get("content-length") == "1234"


@pytest.mark.parametrize("parts", [2, 7])
def test_declared_length_raw_parts(servers, parts):
    port = servers("raw", "asgi")["granian-ts"]
    status, headers, body, complete = exchange(port, "GET", f"/parts?n=100000&parts={parts}")
    assert (status, headers.get("content-length"), len(body), complete) == (200, "100000", 100000, True)
    # at the hold limit still exact, above it streamed whole without the length (README)
    _, headers, body, complete = exchange(port, "GET", f"/parts?n={HOLD_LIMIT}&parts=64")
    assert headers.get("content-length") == str(HOLD_LIMIT) and len(body) == HOLD_LIMIT and complete
    _, headers, body, complete = exchange(port, "GET", f"/parts?n={HOLD_LIMIT + 1}&parts=64")
    assert "content-length" not in headers and headers.get("transfer-encoding") == "chunked"
    assert len(body) == HOLD_LIMIT + 1 and complete


@pytest.mark.parametrize("query", [
    "n=10&declared=20",  # short, held
    "n=30&declared=20",  # long, held
    "n=10&declared=20&single=1",  # short, in one message
    "n=30&declared=20&single=1",  # long, in one message
    "n=100&declared=0&single=1",
    f"n={HOLD_LIMIT + 10}&declared={HOLD_LIMIT + 20}&parts=64",  # short, streamed
    f"n={HOLD_LIMIT + 30}&declared={HOLD_LIMIT + 20}&parts=64",  # long, streamed
])
def test_body_not_matching_its_length_is_cut(servers, query):
    ours = servers("raw", "asgi")["granian-ts"]
    status, headers, body, complete = exchange(ours, "GET", f"/parts?{query}")
    assert not complete, (status, headers, len(body))
    # and the server goes on
    assert exchange(ours, "GET", "/parts?n=10")[3]


def test_big_file_behind_a_middleware_streams_whole(servers):
    port = servers("fastapi_app", "asgi")["granian-ts"]
    status, headers, body, complete = exchange(port, "GET", "/file?big=1")
    assert status == 200 and complete and len(body) == BIG
    assert "content-length" not in headers  # above the hold limit: Bun sends it chunked (README)

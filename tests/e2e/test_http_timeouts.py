"""Connections do not stay open forever: an idle keep-alive connection is closed after
--http1-header-read-timeout (Bun's idle timer, whole seconds, checked every few seconds), a
client sending its headers too slowly after Bun's own ~10 s; a slow app is not cut by the idle
timer, and the connection's timer is back once its response went out."""
import socket
import time

import pytest

# 1 s: Bun checks its idle timers on a coarse tick, so a connection goes within ~1-5 s.
ARGS = ["--http1-header-read-timeout", "1000"]
BOUND = 15  # seconds: generous on a busy box, far below "never"


def read_until_closed(s, deadline):
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def response_then_close(s, request):
    s.sendall(request)
    t0 = time.monotonic()
    data, closed = read_until_closed(s, t0 + BOUND)
    return data, closed, time.monotonic() - t0


@pytest.fixture(scope="module")
def server():
    from _server import Server
    s = Server("conn_info:asgi", args=ARGS).start()
    yield s
    s.stop()


def conn(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=0.5)
    return s


def test_idle_keepalive_connection_closed(server):
    with conn(server) as s:
        data, closed, _ = response_then_close(s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200")
    assert closed, "an idle keep-alive connection stayed open"


def test_slow_headers_closed(server):
    with conn(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        closed = False
        # One header byte every 0.5 s: the connection is never silent, but its headers never end.
        while time.monotonic() < t0 + BOUND:
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            try:
                if s.recv(65536) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass  # 0.5 s without an answer: send the next byte
            except ConnectionResetError:
                closed = True
                break
        assert closed, "a client dribbling its headers kept the connection"


def test_slow_app_not_cut_and_timer_restored(server):
    with conn(server) as s:
        # The app takes longer than the idle timeout (and Bun's tick) to answer.
        data, closed, took = response_then_close(s, b"GET /sleep?6 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200"), data
    assert b'"http_version": "1.1"' in data
    assert took >= 6
    assert closed, "after a slow request the connection kept no idle timeout"


def test_no_http1_keep_alive_closes_after_each_response(make_server):
    s = make_server("conn_info:asgi", args=["--no-http1-keep-alive"])
    with socket.create_connection(("127.0.0.1", s.port), timeout=0.5) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        data, closed = read_until_closed(c, t0 + BOUND)
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 200")
    assert b"\r\nConnection: close\r\n" in data or b"\r\nconnection: close\r\n" in data
    assert closed and took < 1, "the connection outlived its response"


def test_options_bun_cannot_apply_warn_once_each(make_server):
    s = make_server("conn_info:asgi", args=["--http2-max-concurrent-streams", "100", "--http2-max-frame-size", "32768"])
    for flag in ("--http2-max-concurrent-streams", "--http2-max-frame-size"):
        assert s.log.count(f"{flag} is accepted but not applied") == 1, s.log
    assert "accepted but not applied" not in make_server("conn_info:asgi").log

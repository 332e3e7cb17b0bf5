"""Bad apps and bad clients: clear errors, nothing hangs, the server lives on."""
import socket

import httpx
import pytest


def raw(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
                if b"\r\n\r\n" in out and b"content-length: 0" in out.lower():
                    break
        except socket.timeout:
            pass
        return out


def test_exception_before_response_is_500_with_traceback(raw_server):
    r = httpx.get(raw_server.url + "/error-before")
    assert r.status_code == 500
    assert r.text == "Internal server error"
    assert raw_server.wait_for_log("boom before the response")
    assert "Traceback" in raw_server.log
    assert httpx.get(raw_server.url + "/scope").status_code == 200


def test_exception_after_start_closes_the_connection(raw_server):
    # Bun drops the connection: the client sees a truncated body or a reset, never a clean end.
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        with httpx.stream("GET", raw_server.url + "/error-after", timeout=10) as r:
            assert r.status_code == 200
            r.read()
    assert raw_server.wait_for_log("boom after the response started")
    assert httpx.get(raw_server.url + "/scope").status_code == 200


def test_app_that_returns_without_responding_is_500(raw_server):
    r = httpx.get(raw_server.url + "/no-response", timeout=10)
    assert r.status_code == 500


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /\x00bad HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (200 * 1024) + b"\r\n\r\n",
    ],
    ids=["garbage", "bad-version", "nul-in-target", "bad-header", "bad-content-length", "oversized-header"],
)
def test_malformed_requests_get_4xx_and_the_server_lives(raw_server, request_bytes):
    out = raw(raw_server.port, request_bytes)
    status = out.split(b" ", 2)[1] if out.startswith(b"HTTP/1.1 ") else b""
    # Bun answers these itself: a 4xx, or 505 for a request line it cannot read as HTTP/1.x.
    assert status.startswith(b"4") or status == b"505", out[:200]
    assert httpx.get(raw_server.url + "/scope").status_code == 200

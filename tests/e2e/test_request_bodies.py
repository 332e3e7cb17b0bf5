"""Whether a request has a body, and how long it is, as Bun's parser and RFC 9110 say: a
repeated identical Content-Length, the odd forms of the value, HTTP/2 bodies without any
length, and chunked bodies with a trailer section (which Bun's parser does not read)."""
import json
import subprocess
import time

import pytest

from _server import raw_request


@pytest.fixture(scope="module")
def server():
    from _server import Server
    s = Server("bodies_asgi:app").start()
    yield s
    s.stop()


def records(server):
    return json.loads(raw_request(server.port, b"GET /records HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                      .split(b"\r\n\r\n", 1)[1])


def post(server, head, body=b""):
    """A raw POST with `head` lines; returns (status, response bytes)."""
    out = raw_request(server.port, b"POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + head + b"\r\n" + body)
    return int(out.split(b" ", 2)[1]), out


def test_two_identical_content_lengths_are_one(server):
    body = bytes(range(256)) * 390 + b"x" * 160  # 100 000 bytes
    status, out = post(server, b"Content-Length: 100000\r\nContent-Length: 100000\r\n", body)
    assert status == 200 and json.loads(out.split(b"\r\n\r\n", 1)[1]) == {"bytes": 100000}
    assert records(server) == [["complete", 100000]]


def test_differing_content_lengths_are_refused(server):
    status, _ = post(server, b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!")
    assert status == 400
    assert records(server) == []


# RFC 9110 §8.6: Content-Length = 1*DIGIT, optional whitespace around a field value.
@pytest.mark.parametrize("value,status", [
    (b"5", 200), (b"005", 200), (b" 5 ", 200), (b"5\t", 200),
    (b"+5", 400), (b"-5", 400), (b"0x5", 400), (b"5.0", 400), (b"1e1", 400), (b"", 400),
    (b"5 5", 400), (b"99999999999999999999999", 400),
])
def test_odd_content_length_forms(server, value, status):
    got, _ = post(server, b"Content-Length: " + value + b"\r\n", b"hello")
    assert got == status
    assert records(server) == ([["complete", 5]] if status == 200 else [])


@pytest.mark.parametrize("size", [20_000, 100_000, 5 * 1024 * 1024])
def test_http2_upload_without_content_length_reaches_the_app_whole(server, size):
    body = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
    out = subprocess.run(["curl", "-sS", "--max-time", "60", "--http2-prior-knowledge", "-T", "-",
                          server.url + "/body"], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"bytes": size}
    assert records(server) == [["complete", size]]


def test_chunked_body_still_works(server):
    status, out = post(server, b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert status == 200 and json.loads(out.split(b"\r\n\r\n", 1)[1]) == {"bytes": 11}
    assert records(server) == [["complete", 11]]


def test_chunked_body_with_an_announced_trailer_is_refused_before_the_app(server):
    status, _ = post(server, b"Transfer-Encoding: chunked\r\nTrailer: x-checksum\r\n",
                     b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n")
    assert status == 400
    assert records(server) == []


def test_chunked_body_with_a_trailer_is_never_a_complete_body_for_the_app(server):
    # Bun's parser ends the body at the last chunk and answers the trailer field 400: the app
    # must not take the body as complete (it sees the client go away).
    status, _ = post(server, b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n")
    assert status == 400
    deadline = time.monotonic() + 10
    got = records(server)
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)  # polling the app's record, bounded by the deadline
        got = records(server)
    assert [outcome for outcome, _ in got] == ["disconnect"]

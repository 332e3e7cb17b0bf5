"""Request-head limits as Granian's: `--http1-buffer-size` (default 417792 bytes) bounds the request
line plus headers; up to it a request is served, one byte more gets 431."""
import httpx
import pytest

from _server import raw_request

HEAD = "GET /scope HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-pad: {pad}\r\n\r\n"


def head_of(size):
    """A request head of exactly `size` bytes (request line, headers, final CRLF CRLF)."""
    pad = size - len(HEAD.format(pad=""))
    return HEAD.format(pad="a" * pad).encode()


def status_of(port, data):
    return raw_request(port, data, timeout=10).split(b"\r\n", 1)[0]


@pytest.fixture(scope="module")
def small_limit(request):
    from _server import Server
    s = Server("raw_asgi:app", args=["--http1-buffer-size", "16384"]).start()
    yield s
    s.stop()


def test_a_32_kib_header_and_a_16_kib_url_are_served_by_default(raw_server):
    r = httpx.get(raw_server.url + "/scope", headers={"x-big": "a" * 32 * 1024})
    assert r.status_code == 200
    assert dict(r.json()["headers"])["x-big"] == "a" * 32 * 1024
    r = httpx.get(raw_server.url + "/scope?" + "q" * 16 * 1024)
    assert r.status_code == 200
    assert len(r.json()["query_string"]) == 16 * 1024


def test_the_default_limit_on_both_sides(raw_server):
    assert status_of(raw_server.port, head_of(417792)) == b"HTTP/1.1 200 OK"
    assert status_of(raw_server.port, head_of(417793)) == b"HTTP/1.1 431 Request Header Fields Too Large"


def test_a_smaller_limit_on_both_sides(small_limit):
    assert status_of(small_limit.port, head_of(16384)) == b"HTTP/1.1 200 OK"
    assert status_of(small_limit.port, head_of(16385)) == b"HTTP/1.1 431 Request Header Fields Too Large"
    url = b"GET /scope?" + b"q" * 16400 + b" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    assert status_of(small_limit.port, url) == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert httpx.get(small_limit.url + "/scope").status_code == 200  # and it goes on serving


def test_the_limit_from_granians_env_var(make_server):
    s = make_server("raw_asgi:app", env={"GRANIAN_HTTP1_BUFFER_SIZE": "9000"})
    assert status_of(s.port, head_of(9000)) == b"HTTP/1.1 200 OK"
    assert status_of(s.port, head_of(9001)) == b"HTTP/1.1 431 Request Header Fields Too Large"


def test_the_limit_holds_under_the_npx_shim_too(make_server):
    # The shim starts Bun with --max-http-header-size at the default (src/_header_limit.ts).
    s = make_server("raw_asgi:app", runner="node")
    assert httpx.get(s.url + "/scope", headers={"x-big": "a" * 32 * 1024}).status_code == 200
    assert status_of(s.port, head_of(417792)) == b"HTTP/1.1 200 OK"
    assert status_of(s.port, head_of(417793)) == b"HTTP/1.1 431 Request Header Fields Too Large"


def test_another_limit_under_the_shim_overrides_its_flag(make_server):
    s = make_server("raw_asgi:app", runner="node", args=["--http1-buffer-size", "16384"])
    assert status_of(s.port, head_of(16384)) == b"HTTP/1.1 200 OK"
    assert status_of(s.port, head_of(16385)) == b"HTTP/1.1 431 Request Header Fields Too Large"

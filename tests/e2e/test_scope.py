"""ASGI scope fields and messages, against a raw ASGI app."""
import sys

import httpx
from _server import raw_request


def test_scope_fields(raw_server):
    r = httpx.get(raw_server.url + "/scope/caf%C3%A9/a%2Fb?x=1&y=%20z&x=2", headers={"X-Custom": "v"})
    s = r.json()
    assert s["type"] == "http"
    assert s["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert s["http_version"] == "1.1"
    assert s["method"] == "GET"
    assert s["scheme"] == "http"
    assert s["path"] == "/scope/caf\u00e9/a/b"
    assert s["raw_path"] == "/scope/caf%C3%A9/a%2Fb"
    assert s["query_string"] == "x=1&y=%20z&x=2"
    assert s["root_path"] == ""
    assert ["x-custom", "v"] in s["headers"]
    assert ["host", f"127.0.0.1:{raw_server.port}"] in s["headers"]
    assert all(k == k.lower() for k, _ in s["headers"])
    assert s["client"][0] == "127.0.0.1" and isinstance(s["client"][1], int) and s["client"][1] > 0
    assert s["server"] == ["127.0.0.1", 8000] or s["server"][0] == "127.0.0.1"


def test_lifespan_state_reaches_requests(raw_server):
    s = httpx.get(raw_server.url + "/scope").json()
    assert s["has_state"] is True
    assert s["state"]["greeting"] == "hello from lifespan"
    assert s["state"]["pid"] == s["pid"]


def test_methods_and_bodies(raw_server):
    for method in ["POST", "PUT", "PATCH", "DELETE"]:
        r = httpx.request(method, raw_server.url + "/echo", content=b"payload-" + method.encode())
        assert r.status_code == 200 and r.content == b"payload-" + method.encode()
    assert httpx.request("OPTIONS", raw_server.url + "/scope").json()["method"] == "OPTIONS"


def test_head_request(raw_server):
    r = httpx.head(raw_server.url + "/download?size=1000")
    assert r.status_code == 200
    assert r.content == b""


def test_repeated_request_headers_are_merged_by_bun(raw_server):
    # Bun merges repeated request headers into one "a, b" value (documented in the README).
    resp = raw_request(raw_server.port, b"GET /scope HTTP/1.1\r\nHost: x\r\nX-Rep: a\r\nX-Rep: b\r\nConnection: close\r\n\r\n")
    assert b'["x-rep", "a, b"]' in resp


def test_repeated_response_headers_are_kept(raw_server):
    r = httpx.get(raw_server.url + "/cookies")
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert r.headers.raw  # latin-1 bytes travel unchanged
    assert (b"x-latin", "caf\u00e9".encode("latin-1")) in [(k.lower(), v) for k, v in r.headers.raw]


def test_statuses(raw_server):
    for code in [201, 204, 301, 304, 400, 418, 503]:
        r = httpx.get(raw_server.url + f"/status?code={code}")
        assert r.status_code == code
        assert r.headers["x-status"] == str(code)


def test_requests_run_as_asyncio_tasks(raw_server):
    assert httpx.get(raw_server.url + "/async-libs").json() == {"sniffio": "asyncio", "wait_for": "waited", "task": True}


def test_unknown_message_type_raises_granians_error_with_the_type_in_a_note(raw_server):
    result = httpx.get(raw_server.url + "/unknown-message").json()
    assert result["error"] == "RuntimeError: Unsupported ASGI message"
    if sys.version_info >= (3, 11):
        assert any("http.response.bogus" in note for note in result["notes"])


def test_unknown_message_after_the_start_raises_granians_error(raw_server):
    # Apps and their tests match on it (issue 9, item 5); the response then goes on as usual.
    r = httpx.get(raw_server.url + "/unknown-message-after-start")
    assert (r.status_code, r.text) == (200, "RuntimeError: Unsupported ASGI message")


def test_root_path(make_server):
    s = make_server("raw_asgi:app", args=["--root-path", "/api"])
    assert httpx.get(s.url + "/scope").json()["root_path"] == "/api"


def test_dotted_target(make_server):
    s = make_server("nested:holder.inner.app")
    assert httpx.get(s.url + "/scope").json()["method"] == "GET"

"""The RSGI scope and headers an app sees, and the app's shapes and startup/shutdown hooks."""

import asyncio

import pytest

from fakes import FakeBun, start_interface
from granian_ts.rsgi import Headers, HTTPProtocol, Scope


def recording_app(seen):
    async def app(scope, protocol):
        seen.append((scope, protocol, asyncio.current_task()))
        protocol.response_str(200, [("content-type", "text/plain")], "hello")

    return app


async def serve_one(app=None, seen=None, **request):
    seen = [] if seen is None else seen
    bun = await FakeBun.serving(app or recording_app(seen), "rsgi", server_host="0.0.0.0", server_port=3000)
    bun.request(**request)
    response = await bun.response()
    return seen[0] if seen else None, response


async def test_scope_fields():
    (scope, protocol, task), response = await serve_one(
        method="POST",
        path="/items/%C3%A9%2Fx",
        query="q=1&r=%20",
        headers=[("host", "example.com"), ("x-latin", "caf\u00e9")],
        client=("10.0.0.7", 41234),
        body=b"",
    )
    assert isinstance(scope, Scope) and isinstance(protocol, HTTPProtocol)
    assert (scope.proto, scope.rsgi_version, scope.http_version) == ("http", "1.6", "1.1")
    assert (scope.server, scope.client, scope.scheme, scope.method) == ("0.0.0.0:3000", "10.0.0.7:41234", "http", "POST")
    # As Granian: the path percent-decoded, the query string as sent.
    assert (scope.path, scope.query_string) == ("/items/\u00e9/x", "q=1&r=%20")
    assert scope.authority is None  # HTTP/1.1
    assert scope.headers.items() == [("host", "example.com"), ("x-latin", "caf\u00e9")]
    assert isinstance(task, asyncio.Task)
    assert (response.status, response.body) == (200, b"hello")


async def test_authority_is_the_host_under_http2():
    (scope, _, _), _ = await serve_one(http_version="2", headers=[("host", "example.com:8443")])
    assert (scope.http_version, scope.authority) == ("2", "example.com:8443")


async def test_ipv6_client_is_bracketed_and_a_missing_one_is_empty():
    (scope, _, _), _ = await serve_one(client=("::1", 5000))
    assert scope.client == "[::1]:5000"
    (scope, _, _), _ = await serve_one(client=("", 0))
    assert scope.client == ""


def test_headers_api_like_granian():
    headers = Headers(["host", "a", "x-dup", "one", "accept", "*/*", "x-dup", "two"])
    assert headers.get("x-dup") == "one" and headers.get("X-Dup") == "one"
    assert headers.get("nope") is None and headers.get("nope", "dflt") == "dflt"
    assert headers.get_all("X-DUP") == ["one", "two"] and headers.get_all("nope") == []
    assert headers["host"] == "a"
    with pytest.raises(KeyError):
        headers["nope"]
    assert "X-Dup" in headers and "nope" not in headers and 3 not in headers
    assert headers.keys() == ["host", "x-dup", "accept"] == list(headers)
    assert headers.values() == ["a", "one", "*/*", "two"]
    assert headers.items() == [("host", "a"), ("x-dup", "one"), ("accept", "*/*"), ("x-dup", "two")]
    assert len(headers) == 3
    empty = Headers([])
    assert (empty.get("a"), len(empty), empty.items(), empty.keys()) == (None, 0, [], [])


async def test_a_plain_callable_and_an_object_with_rsgi_methods():
    calls = []

    class App:
        def __rsgi_init__(self, loop):
            calls.append(("init", loop is asyncio.get_running_loop()))

        def __rsgi_del__(self, loop):
            calls.append(("del", loop is asyncio.get_running_loop()))

        async def __rsgi__(self, scope, protocol):
            calls.append(("call", scope.path))
            protocol.response_empty(204, [])

        async def __call__(self, scope, protocol):  # never used: __rsgi__ wins
            calls.append(("__call__",))

    interface = await start_interface(App(), "rsgi")
    assert calls == [("init", True)]
    bun = FakeBun(interface)
    bun.request(path="/x")
    assert (await bun.response()).status == 204
    await interface.shutdown()
    assert calls == [("init", True), ("call", "/x"), ("del", True)]


async def test_an_rsgi_init_that_raises_fails_startup():
    class App:
        def __rsgi_init__(self, loop):
            raise RuntimeError("no database")

        async def __rsgi__(self, scope, protocol):
            pass

    with pytest.raises(RuntimeError, match="no database"):
        await start_interface(App(), "rsgi")


async def test_an_rsgi_del_that_raises_is_logged(caplog):
    class App:
        def __rsgi_del__(self, loop):
            raise RuntimeError("cleanup failed")

        async def __rsgi__(self, scope, protocol):
            pass

    interface = await start_interface(App(), "rsgi")
    await interface.shutdown()
    assert "Exception in RSGI __rsgi_del__" in caplog.text and "cleanup failed" in caplog.text

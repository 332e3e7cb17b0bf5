"""The HTTP scope an ASGI app sees, and a plain response going out."""

import asyncio

from fakes import FakeBun
from granian_ts.protocol import FLAG_END, RESPONSE


def recording_app(scopes):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        scopes.append(scope)
        scopes.append(asyncio.current_task())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hello"})

    return app


async def test_scope_fields():
    seen = []
    bun = await FakeBun.serving(recording_app(seen), "asginl", server_host="0.0.0.0", server_port=3000)
    bun.request(
        method="POST",
        path="/items/%C3%A9%2Fx",
        query="q=1&r=%20",
        headers=[("host", "example.com"), ("x-latin", "caf\u00e9")],
        client=("10.0.0.7", 41234),
        body=b"",
    )
    await bun.response()
    scope, task = seen
    assert scope == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/items/\u00e9/x",
        "raw_path": b"/items/%C3%A9%2Fx",
        "query_string": b"q=1&r=%20",
        "root_path": "",
        "headers": [(b"host", b"example.com"), (b"x-latin", b"caf\xe9")],
        "client": ("10.0.0.7", 41234),
        "server": ("0.0.0.0", 3000),
        "extensions": {"http.response.pathsend": {}},
    }
    assert isinstance(task, asyncio.Task)  # a real task: contextvars, sniffio, wait_for work


async def test_root_path_is_reported_and_the_path_left_as_sent():
    seen = []
    bun = await FakeBun.serving(recording_app(seen), "asginl", root_path="/api")
    bun.request(path="/api/users")
    await bun.response()
    scope = seen[0]
    assert (scope["root_path"], scope["path"], scope["raw_path"]) == ("/api", "/api/users", b"/api/users")


async def test_invalid_utf8_in_path_is_replaced():
    seen = []
    bun = await FakeBun.serving(recording_app(seen), "asginl")
    bun.request(path="/a%FFb")
    await bun.response()
    assert seen[0]["path"] == "/a\ufffdb"


async def test_response_is_one_frame_in_one_write():
    bun = await FakeBun.serving(recording_app([]), "asginl")
    bun.request()
    response = await bun.response()
    assert (response.status, response.headers, response.body) == (200, [(b"content-type", b"text/plain")], b"hello")
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE, FLAG_END)]
    assert bun.transport.writes == 1


async def test_responses_of_one_tick_share_one_write():
    bun = await FakeBun.serving(recording_app([]), "asginl")
    for stream in (1, 2, 3):
        bun.request(stream=stream)
    for stream in (1, 2, 3):
        assert (await bun.response(stream)).body == b"hello"
    assert bun.transport.writes == 1


async def test_latin1_response_header_travels_as_utf8():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-latin", b"caf\xe9")]})
        await send({"type": "http.response.body", "body": b""})

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    response = await bun.response()
    assert (response.status, response.headers) == (201, [(b"x-latin", b"caf\xe9")])
    assert b"caf\xc3\xa9" in response.frames[0][3]

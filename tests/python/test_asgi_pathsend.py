"""The ASGI pathsend extension: the file goes to Bun as a path (RESPONSE_FILE), not as bytes."""

import asyncio
import os

from fakes import FakeBun
from granian_ts.protocol import FLAG_END, MAX_CHUNK, RESPONSE, RESPONSE_ACK, RESPONSE_BODY, RESPONSE_FILE, U32

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}


async def serve_once(app):
    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    return bun, await bun.response()


async def test_the_extension_is_advertised():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["extensions"])
        await send(START)
        await send({"type": "http.response.body", "body": b""})

    await serve_once(app)
    assert seen == [{"http.response.pathsend": {}}]


async def test_pathsend_is_one_frame_with_the_held_head():
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.pathsend", "path": "/srv/static/a.txt"})

    bun, response = await serve_once(app)
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE_FILE, FLAG_END)]
    assert (response.status, response.headers, response.file) == (200, [(b"content-type", b"text/plain")], ["/srv/static/a.txt"])



async def test_a_pathlike_path_is_taken():
    import pathlib

    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.pathsend", "path": pathlib.Path("/srv/static/a.txt")})

    _, response = await serve_once(app)
    assert response.file == ["/srv/static/a.txt"]

async def test_a_relative_path_is_the_apps_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.pathsend", "path": "a.txt"})

    _, response = await serve_once(app)
    assert response.file == [os.path.join(str(tmp_path), "a.txt")]


async def test_after_the_head_left_the_file_follows_as_body_chunks(tmp_path):
    data = bytes(range(256)) * (MAX_CHUNK // 256) + b"tail"  # 1 MiB + 4 bytes: two chunks
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    async def app(scope, receive, send):
        await send(START)
        await asyncio.sleep(0.01)  # the head leaves with this tick's flush
        await send({"type": "http.response.pathsend", "path": str(path)})

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.until(lambda: len(bun.of(1)) == 2)
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    response = await bun.response()
    assert response.body == data
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE, 0), (RESPONSE_BODY, 0), (RESPONSE_BODY, FLAG_END)]


async def test_pathsend_before_start_is_refused():
    raised = []

    async def app(scope, receive, send):
        try:
            await send({"type": "http.response.pathsend", "path": "/x"})
        except RuntimeError as exc:
            raised.append(str(exc))
            raise

    _, response = await serve_once(app)
    assert raised[0] == "ASGI flow error: Response not started"  # Granian's error
    assert response.status == 500

"""RSGI websockets end to end (apps/ws_rsgi.py), and an Emmett websocket route."""
import json
import time

import pytest
from _server import APPS, Server
from _ws import ConnectionClosed, InvalidStatus, connect, run, stats, ws_url


@pytest.fixture(scope="module")
def server():
    s = Server("ws_rsgi:app", interface="rsgi").start()
    yield s
    s.stop()


def test_scope(server):
    async def go():
        async with connect(ws_url(server, "/scope?x=%20")) as ws:
            return json.loads(await ws.recv())

    scope = run(go())
    assert scope["proto"] == "ws"
    assert (scope["method"], scope["path"], scope["scheme"]) == ("GET", "/scope", "http")
    assert scope["query_string"] == "x=%20"
    assert (scope["http_version"], scope["rsgi_version"]) == ("1.1", "1.6")
    assert scope["upgrade"] == "websocket"
    assert scope["client"].startswith("127.0.0.1:")


def test_echo_text_and_bytes_then_app_close(server):
    async def go():
        async with connect(ws_url(server, "/echo"), max_size=None) as ws:
            await ws.send("h\u00e9llo")
            assert await ws.recv() == "h\u00e9llo"
            await ws.send(b"\x00\xff")
            assert await ws.recv() == b"\x00\xff"
            big = b"q" * (3 * 1024 * 1024 + 7)
            await ws.send(big)
            assert await ws.recv() == big
            await ws.send("close")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd.code

    assert run(go()) == 1000


def test_client_close_is_a_closed_message(server):
    async def go():
        async with connect(ws_url(server, "/echo")) as ws:
            await ws.send("x")
            await ws.recv()

    before = stats(server)["closed"]
    run(go())
    deadline = time.monotonic() + 10
    while stats(server)["closed"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stats(server)["closed"] == before + 1


def test_close_before_accept_rejects_with_the_status(server):
    async def go():
        with pytest.raises(InvalidStatus) as info:
            await connect(ws_url(server, "/reject"))
        return info.value.response.status_code

    assert run(go()) == 404


def test_emmett_websocket_route(make_server):
    s = make_server("app:app", interface="rsgi", cwd=APPS / "emmett_site")

    async def go():
        async with connect(ws_url(s, "/ws")) as ws:
            await ws.send("ping")
            first = await ws.recv()
            await ws.send("again")
            return first, await ws.recv()

    assert run(go()) == ("echo: ping", "echo: again")

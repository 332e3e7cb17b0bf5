"""examples/hono/server.ts as a user runs it: Hono's TS routes and a FastAPI app on one port."""
import signal
import sys

import httpx
import pytest
from _server import BUN, EXAMPLES, Server
from _ws import connect, run


@pytest.fixture(scope="module")
def hono():
    s = Server("unused")
    s.argv = [str(BUN), str(EXAMPLES / "hono" / "server.ts")]
    s.env.update(PORT="0", GRANIAN_TS_PYTHON=sys.executable)
    s.start()
    yield s
    s.stop()


def test_ts_and_python_routes_share_the_port(hono):
    assert httpx.get(hono.url + "/").text == "Hello from Hono"
    assert httpx.get(hono.url + "/api/sum", params={"a": 2, "b": 3}).json() == {"sum": 5}
    assert httpx.get(hono.url + "/py/items/7", params={"q": "x"}).json() == {"item_id": 7, "q": "x"}
    r = httpx.post(hono.url + "/py/items", json={"name": "pen", "price": 2.5})
    assert r.json() == {"name": "pen", "price": 2.5}
    assert httpx.post(hono.url + "/py/items", json={"name": "pen"}).status_code == 422


def test_fastapi_knows_its_mount_point(hono):
    info = httpx.get(hono.url + "/py/").json()
    assert info["root_path"] == "/py"
    assert info["path"] == "/py/"
    assert info["items_url"] == f"{hono.url}/py/items/1"
    assert info["client"] == "127.0.0.1"
    # FastAPI's docs find their openapi.json under the mount point.
    assert "/py/openapi.json" in httpx.get(hono.url + "/py/docs").text
    assert httpx.get(hono.url + "/py/openapi.json").json()["info"]["title"] == "granian-ts: FastAPI inside Hono"


def test_python_websocket_through_the_hono_server(hono):
    async def go():
        async with connect(f"ws://127.0.0.1:{hono.port}/py/ws") as ws:
            replies = []
            for text in ("one", "two"):
                await ws.send(text)
                replies.append(await ws.recv())
            return replies

    assert run(go()) == ["echo: one", "echo: two"]


def test_sigterm_exits_cleanly():
    s = Server("unused")
    s.argv = [str(BUN), str(EXAMPLES / "hono" / "server.ts")]
    s.env.update(PORT="0", GRANIAN_TS_PYTHON=sys.executable)
    s.start()
    assert httpx.get(s.url + "/py/items/1").status_code == 200
    assert s.stop(signal.SIGTERM) == 0
    assert "Application shutdown complete" in s.log

"""A real Quart app's websockets through granian-ts (issue 9, item 2), with the `websockets` client."""
import httpx
import pytest

from _server import Server
from _ws import ConnectionClosed, InvalidStatus, connect, run, ws_url


@pytest.fixture(scope="module")
def server():
    s = Server("quart_app:app").start()
    yield s
    s.stop()


def test_quart_echo_gets_the_messages_its_reader_task_waited_for(server):
    async def go():
        async with connect(ws_url(server, "/echo"), open_timeout=10) as ws:
            got = []
            for text in ["one", "two", "three"]:
                await ws.send(text)
                got.append(await ws.recv())
            await ws.send("bye")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return got, info.value.rcvd.code

    assert run(go(), timeout=20) == (["echo one", "echo two", "echo three"], 1000)


def test_quart_handler_that_accepts_late_still_gets_the_first_message(server):
    async def go():
        async with connect(ws_url(server, "/late"), open_timeout=10) as ws:
            await ws.send("hello")
            return await ws.recv()

    assert run(go(), timeout=20) == "late hello"


def test_quart_denial_response_reaches_the_client(server):
    async def go():
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(server, "/deny"), open_timeout=10):
                pass
        return info.value.response

    response = run(go(), timeout=20)
    assert (response.status_code, bytes(response.body)) == (401, b"not for you")
    assert httpx.get(server.url + "/").text == "ok"

"""ASGI websockets end to end: a real client against a real server (apps/ws_asgi.py)."""
import asyncio
import json
import time

import pytest
from _server import Server
from _ws import ConnectionClosed, InvalidStatus, connect, run, stats, ws_url


@pytest.fixture(scope="module", params=["asyncio", "rust"], ids=lambda impl: f"task-impl-{impl}")
def server(request):
    s = Server("ws_asgi:app", args=["--ws-max-message-size", str(12 * 1024 * 1024), "--task-impl", request.param]).start()
    yield s
    s.stop()


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_scope_fields(server):
    async def go():
        async with connect(ws_url(server, "/scope?a=1&b=%20"), subprotocols=["one", "two"]) as ws:
            return json.loads(await ws.recv())

    scope = run(go())
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/scope"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["root_path"] == ""
    assert scope["subprotocols"] == ["one", "two"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"][0] == "127.0.0.1"  # the port as configured (0 here), as for HTTP
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["has_state"] is True
    names = [n for n, _ in scope["headers"]]
    assert "sec-websocket-key" in names and "upgrade" in names


def test_accept_with_subprotocol_and_headers_then_echo_text_and_bytes(server):
    async def go():
        async with connect(ws_url(server, "/echo"), subprotocols=["a", "b"]) as ws:
            assert ws.subprotocol == "b"
            assert ws.response.headers["x-ws"] == "yes"
            await ws.send("h\u00e9llo")
            assert await ws.recv() == "h\u00e9llo"
            await ws.send(b"\x00\x01\xff")
            assert await ws.recv() == b"\x00\x01\xff"
            for i in range(50):
                await ws.send(f"m{i}")
            return [await ws.recv() for _ in range(50)]

    assert run(go()) == [f"m{i}" for i in range(50)]


def test_app_closes_with_code_and_reason(server):
    async def go():
        async with connect(ws_url(server, "/echo")) as ws:
            await ws.send("close:4001")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd

    rcvd = run(go())
    assert (rcvd.code, rcvd.reason) == (4001, "bye")


def test_client_close_code_reaches_the_app(server):
    async def go():
        async with connect(ws_url(server, "/hold")) as ws:
            await ws.close(code=4321, reason="client bye")

    before = len(stats(server)["disconnects"])
    run(go())
    assert wait_for(lambda: len(stats(server)["disconnects"]) > before)
    assert stats(server)["disconnects"][before] == 4321


def test_client_vanishing_reaches_the_app_as_1006(server):
    async def go():
        ws = await connect(ws_url(server, "/hold"))
        ws.transport.abort()  # no close frame

    before = len(stats(server)["disconnects"])
    run(go())
    assert wait_for(lambda: len(stats(server)["disconnects"]) > before)
    assert stats(server)["disconnects"][before] == 1006


def test_close_before_accept_is_403(server):
    async def go():
        with pytest.raises(InvalidStatus) as info:
            await connect(ws_url(server, "/nowhere"))
        return info.value.response

    assert run(go()).status_code == 403


@pytest.mark.parametrize("path", ["/walk-away", "/boom-before-accept"])
def test_an_app_that_neither_accepts_nor_closes_is_403_with_an_empty_body(server, path):
    # As Granian answers both (not 500): the upgrade is refused, with nothing in the body.
    async def go():
        with pytest.raises(InvalidStatus) as info:
            await connect(ws_url(server, path))
        return info.value.response

    response = run(go())
    assert (response.status_code, response.headers["content-length"], bytes(response.body)) == (403, "0", b"")


def test_denial_response_extension(server):
    async def go():
        with pytest.raises(InvalidStatus) as info:
            await connect(ws_url(server, "/deny"))
        return info.value.response

    response = run(go())
    assert response.status_code == 401
    assert response.headers["x-denied"] == "1"
    assert response.body == b"no entry"


def test_app_error_after_accept_closes_1011(server):
    async def go():
        async with connect(ws_url(server, "/boom")) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd.code

    assert run(go()) == 1011


def test_ten_mib_messages_both_ways(server):
    big = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    text = "caf\u00e9 \u20ac " * (10 * 1024 * 1024 // 12)  # 10 MiB of UTF-8

    async def go():
        async with connect(ws_url(server, "/echo"), max_size=None) as ws:
            await ws.send(big)
            assert await ws.recv() == big
            await ws.send(text)
            return await ws.recv()

    assert run(go(), timeout=60) == text


def test_oversized_message_closes_1009(server):
    async def go():
        # No `async with`: the server closes (1009) while the client is still writing the big
        # message, and closing that connection again from the client trips asyncio on Python
        # 3.11 (transport.abort() on a transport already lost). The server is right; the test
        # waits for the close it sent instead.
        ws = await connect(ws_url(server, "/size"), max_size=None)
        await ws.send(b"x" * 1000)
        assert await ws.recv() == "1000"
        with pytest.raises(ConnectionClosed) as info:
            await ws.send(b"x" * (12 * 1024 * 1024 + 1))
            await ws.recv()
        await ws.wait_closed()
        return info.value.rcvd

    before = len(stats(server)["disconnects"])
    rcvd = run(go())
    assert rcvd is not None and rcvd.code == 1009
    assert wait_for(lambda: len(stats(server)["disconnects"]) > before)
    assert stats(server)["disconnects"][before] == 1009


def test_a_client_that_stops_reading_keeps_server_memory_flat(server):
    """The app sends as fast as it can; the client reads nothing. WS_ACK flow control stops
    the app instead of letting Bun (or the worker) buffer without bound."""

    async def go():
        ws = await connect(ws_url(server, "/flood"), max_size=None, max_queue=1)
        # Stop reading from the socket at all: the kernel buffers fill, then Bun's.
        ws.transport.pause_reading()
        await asyncio.sleep(1.0)
        sent_early = stats(server)["sent"]
        rss_early = server.rss_kib()
        await asyncio.sleep(2.0)
        sent_late = stats(server)["sent"]
        rss_late = server.rss_kib()
        ws.transport.abort()
        return sent_early, sent_late, rss_early, rss_late

    start = stats(server)["sent"]
    sent_early, sent_late, rss_early, rss_late = run(go())
    assert sent_early > start  # it did send
    # Held back: at most a window or two more after the buffers filled (64 KiB messages).
    assert sent_late - sent_early < 64
    assert rss_late - rss_early < 32 * 1024
    assert wait_for(lambda: "send-failed" in stats(server)["disconnects"])


def test_an_app_that_reads_slowly_holds_the_client_back(server):
    """The app takes one message per second; Bun stops reading (ws.pause) past WINDOW."""

    async def go():
        async with connect(ws_url(server, "/sink"), max_size=None) as ws:
            rss_before = server.rss_kib()
            chunk = b"y" * 256 * 1024
            sent = 0
            # Every send returns once the bytes are in the kernel; with Bun paused, they stop.
            try:
                for _ in range(400):  # 100 MiB if nothing held it back
                    await asyncio.wait_for(ws.send(chunk), 2)
                    sent += 1
            except asyncio.TimeoutError:
                pass
            rss_after = server.rss_kib()
            ws.transport.abort()
            return sent, rss_after - rss_before

    sent, grown = run(go(), timeout=120)
    assert sent < 400
    assert grown < 48 * 1024


def test_no_ws_refuses_upgrades(make_server):
    s = make_server("ws_asgi:app", args=["--no-ws"])

    async def go():
        with pytest.raises(InvalidStatus) as info:
            await connect(ws_url(s, "/echo"))
        return info.value.response

    # The upgrade request reaches the app as plain HTTP (here it answers 200 with its stats).
    assert run(go()).status_code == 200


def test_compression_is_offered_only_with_ws_compression(server, make_server):
    s = make_server("ws_asgi:app", args=["--ws-compression"])

    async def go(srv):
        async with connect(ws_url(srv, "/echo")) as ws:  # the client offers permessage-deflate
            await ws.send("z" * 100_000)
            assert await ws.recv() == "z" * 100_000
            return ws.response.headers.get("sec-websocket-extensions", "")

    assert "permessage-deflate" in run(go(s))
    assert "permessage-deflate" not in run(go(server))


def test_shutdown_closes_open_websockets_as_going_away(make_server):
    s = make_server("ws_asgi:app")

    async def go():
        async with connect(ws_url(s, "/echo")) as ws:
            await ws.send("up")
            assert await ws.recv() == "up"
            t0 = time.monotonic()
            code = await asyncio.get_running_loop().run_in_executor(None, s.stop)
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return code, time.monotonic() - t0, info.value.rcvd

    code, took, rcvd = run(go())
    assert code == 0
    assert took < 10  # not held until --shutdown-timeout (30 s)
    assert rcvd is not None and rcvd.code == 1001


def test_a_dying_worker_closes_its_websockets_1011(make_server):
    s = make_server("ws_asgi:app", args=["--respawn-failed-workers"])

    async def go():
        async with connect(ws_url(s, "/echo")) as bystander, connect(ws_url(s, "/die")) as ws:
            await ws.send("die")
            codes = []
            for sock in (ws, bystander):
                with pytest.raises(ConnectionClosed) as info:
                    await sock.recv()
                codes.append(info.value.rcvd.code)
            return codes

    assert run(go()) == [1011, 1011]
    assert s.wait_for_log("respawning")


def test_server_pings_and_closes_a_silent_client(make_server):
    # Bun's smallest ping period is 8 s: a client that answers pings stays, a silent one is dropped.
    import base64
    import os
    import socket

    s = make_server("ws_asgi:app", args=["--ws-ping-interval", "8"])
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(f"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())

    async def polite():
        async with connect(ws_url(s, "/echo"), ping_interval=None) as ws:  # answers pings on its own
            await asyncio.sleep(20)
            await ws.send("still here")
            return await ws.recv()

    async def both():
        polite_task = asyncio.ensure_future(polite())
        data, t0, closed_after = b"", time.monotonic(), None
        loop = asyncio.get_running_loop()
        while closed_after is None and time.monotonic() - t0 < 25:
            chunk = await loop.run_in_executor(None, raw.recv, 65536)
            if not chunk:
                closed_after = time.monotonic() - t0
            data += chunk
        return data, closed_after, await polite_task

    data, closed_after, echoed = run(both(), timeout=40)
    assert data.startswith(b"HTTP/1.1 101")
    assert b"\x89" in data.split(b"\r\n\r\n", 1)[1]  # a ping frame (FIN + opcode 9) reached the silent client
    assert closed_after is not None and closed_after < 25  # which was then dropped
    assert echoed == "still here"  # while the client that answered pings kept its connection

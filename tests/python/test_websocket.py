"""Websocket streams at the frame level, ASGI and RSGI, with no socket (fakes.FakeBun)."""

import asyncio

from fakes import FakeBun, decode_response_head, encode_request_head
from granian_ts.protocol import (
    FLAG_BINARY,
    FLAG_END,
    MAX_CHUNK,
    RESPONSE,
    U32,
    WINDOW,
    WS_ACCEPT,
    WS_ACK,
    WS_CLOSE,
    WS_END,
    WS_MESSAGE,
    WS_MESSAGE_ACK,
    WS_OPEN,
    WS_SEND,
    decode_close,
    encode_close,
    encode_frame,
)
from granian_ts.rsgi import WebsocketMessageType

WS_HEADERS = [("host", "example.com"), ("upgrade", "websocket"), ("sec-websocket-protocol", "chat, v2")]


def open_ws(bun, stream=1, path="/ws", query=""):
    bun.send(WS_OPEN, stream, encode_request_head(path=path, query=query, headers=WS_HEADERS))


def message(bun, stream, data, binary=False, flags=FLAG_END):
    bun.conn.data_received(encode_frame(WS_MESSAGE, flags | (FLAG_BINARY if binary else 0), stream, data))


# ASGI


def asgi_echo(log):
    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        log.append(scope)
        log.append(await receive())
        await send({"type": "websocket.accept", "subprotocol": "v2", "headers": [(b"x-a", b"1")]})
        while True:
            m = await receive()
            log.append(m)
            if m["type"] == "websocket.disconnect":
                return
            if m.get("text") == "bye":
                await send({"type": "websocket.close", "code": 4000, "reason": "done"})
                return
            await send({"type": "websocket.send", **{k: v for k, v in m.items() if k in ("text", "bytes")}})

    return app


async def test_asgi_scope_accept_echo_and_close():
    log = []
    bun = await FakeBun.serving(asgi_echo(log), "asginl")
    open_ws(bun, query="x=1")
    await bun.until(lambda: bun.of(1, WS_ACCEPT))
    scope = log[0]
    assert scope["type"] == "websocket" and scope["scheme"] == "ws" and scope["path"] == "/ws"
    assert scope["query_string"] == b"x=1" and scope["subprotocols"] == ["chat", "v2"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert "method" not in scope
    assert log[1] == {"type": "websocket.connect"}
    status, headers, _ = decode_response_head(bun.of(1, WS_ACCEPT)[0][3])
    assert status == 101 and headers == [(b"x-a", b"1"), (b"sec-websocket-protocol", b"v2")]

    message(bun, 1, "h\u00e9".encode())
    message(bun, 1, b"\x00", binary=True, flags=0)  # a fragment, then the end
    message(bun, 1, b"\x01", binary=True)
    await bun.until(lambda: len(bun.of(1, WS_SEND)) == 2)
    sends = bun.of(1, WS_SEND)
    assert sends[0][1] == FLAG_END and sends[0][3] == "h\u00e9".encode()
    assert sends[1][1] == FLAG_END | FLAG_BINARY and sends[1][3] == b"\x00\x01"
    # Each message taken by the app is acknowledged with its size.
    assert [U32.unpack(f[3])[0] for f in bun.of(1, WS_MESSAGE_ACK)] == [3, 2]

    message(bun, 1, b"bye")
    await bun.until(lambda: bun.of(1, WS_END))
    assert decode_close(bun.of(1, WS_END)[0][3]) == (4000, "done")
    assert 1 not in bun.conn.streams


async def test_asgi_client_close_reaches_the_app_with_its_code():
    log = []
    bun = await FakeBun.serving(asgi_echo(log), "asginl")
    open_ws(bun)
    await bun.until(lambda: bun.of(1, WS_ACCEPT))
    bun.send(WS_CLOSE, 1, encode_close(4321, "gone"))
    await bun.until(lambda: log and log[-1]["type"] == "websocket.disconnect")
    assert log[-1] == {"type": "websocket.disconnect", "code": 4321, "reason": "gone"}
    await bun.settle()
    assert not bun.of(1, WS_END)  # the client already closed


async def test_asgi_close_before_accept_is_403_and_the_denial_extension():
    async def app(scope, receive, send):
        await receive()
        if scope["path"] == "/close":
            await send({"type": "websocket.close"})
        else:
            await send({"type": "websocket.http.response.start", "status": 418, "headers": [(b"x-t", b"1")]})
            await send({"type": "websocket.http.response.body", "body": b"tea", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"pot"})

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun, 1, "/close")
    open_ws(bun, 2, "/deny")
    r1, r2 = await bun.response(1), await bun.response(2)
    assert r1.status == 403
    assert (r2.status, r2.headers, r2.body) == (418, [(b"x-t", b"1")], b"teapot")


async def test_asgi_send_waits_for_ws_acks_beyond_the_window():
    progress = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        for i in range(8):
            await send({"type": "websocket.send", "bytes": b"x" * (WINDOW // 4)})
            progress.append(i)

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    await bun.until(lambda: len(progress) == 4)
    await bun.settle(50)
    assert len(progress) == 4  # a whole window waits for Bun
    bun.send(WS_ACK, 1, U32.pack(WINDOW // 2))
    await bun.until(lambda: len(progress) == 6)
    await bun.settle(50)
    assert len(progress) == 6


async def test_asgi_large_messages_go_out_in_fragments():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "bytes": b"z" * (MAX_CHUNK * 2 + 5)})

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    await bun.until(lambda: bun.of(1, WS_END))
    sends = bun.of(1, WS_SEND)
    assert [f[1] for f in sends] == [FLAG_BINARY, FLAG_BINARY, FLAG_BINARY | FLAG_END]
    assert sum(len(f[3]) for f in sends) == MAX_CHUNK * 2 + 5
    assert decode_close(bun.of(1, WS_END)[0][3]) == (1000, "")  # returned without close


async def test_asgi_send_after_the_client_left_raises_oserror():
    outcome = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        assert (await receive())["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "text": "late"})
        except OSError as exc:
            outcome.append(exc)

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    await bun.until(lambda: bun.of(1, WS_ACCEPT))
    bun.send(WS_CLOSE, 1, encode_close(1001))
    await bun.until(lambda: outcome)


async def test_asgi_app_error_before_accept_is_403_after_is_1011():
    async def app(scope, receive, send):
        await receive()
        if scope["path"] == "/late":
            await send({"type": "websocket.accept"})
        raise RuntimeError("boom")

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun, 1, "/early")
    open_ws(bun, 2, "/late")
    # As Granian answers it: the upgrade is refused with 403 and an empty body.
    early = await bun.response(1)
    assert (early.status, early.headers, early.body) == (403, [(b"content-length", b"0")], b"")
    await bun.until(lambda: bun.of(2, WS_END))
    assert decode_close(bun.of(2, WS_END)[0][3])[0] == 1011


async def test_asgi_receive_before_accept_gets_connect_then_the_messages_after_accept():
    # Quart's shape: a reader task receives from the start; the handler accepts later.
    got = []

    async def app(scope, receive, send):
        async def reader():
            while True:
                m = await receive()
                got.append(m)
                if m["type"] == "websocket.disconnect":
                    return
                if m["type"] == "websocket.receive":
                    await send({"type": "websocket.send", "text": "echo " + m["text"]})

        task = asyncio.ensure_future(reader())
        await bun.until(lambda: got)  # the reader took websocket.connect and waits again
        await asyncio.sleep(0)
        await send({"type": "websocket.accept"})
        await task

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    await bun.until(lambda: bun.of(1, WS_ACCEPT))
    message(bun, 1, b"hi")
    await bun.until(lambda: bun.of(1, WS_SEND))
    assert bun.of(1, WS_SEND)[0][3] == b"echo hi"
    bun.send(WS_CLOSE, 1, encode_close(1000))
    await bun.until(lambda: got[-1]["type"] == "websocket.disconnect")
    assert [m["type"] for m in got] == ["websocket.connect", "websocket.receive", "websocket.disconnect"]


async def test_asgi_receive_before_accept_ends_when_the_client_leaves():
    got = []

    async def app(scope, receive, send):
        got.append(await receive())
        got.append(await receive())

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    await bun.until(lambda: got)
    bun.send(WS_CLOSE, 1, encode_close(1001))
    await bun.until(lambda: len(got) == 2)
    assert got[1] == {"type": "websocket.disconnect", "code": 1001, "reason": ""}


async def test_asgi_app_returning_without_accept_or_close_is_403_with_an_empty_body():
    async def app(scope, receive, send):
        await receive()

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    response = await bun.response(1)
    assert (response.status, response.headers, response.body) == (403, [(b"content-length", b"0")], b"")


async def test_asgi_websocket_unknown_message_is_granians_error():
    raised = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        try:
            await send({"type": "websocket.foo"})
        except RuntimeError as exc:
            raised.append(str(exc))

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    await bun.until(lambda: raised)
    assert raised == ["Unsupported ASGI message"]


async def test_asgi_websocket_bad_values_raise_and_the_socket_closes_1011():
    for message in [
        {"type": "websocket.close", "code": 70000},
        {"type": "websocket.close", "code": "1000"},
        {"type": "websocket.close", "reason": "x" * 124},
        {"type": "websocket.send", "text": b"bytes"},
        {"type": "websocket.send", "bytes": "text"},
    ]:
        raised = []

        async def app(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            try:
                await send(message)
            except RuntimeError as exc:
                raised.append(str(exc))
                raise

        bun = await FakeBun.serving(app, "asginl")
        open_ws(bun)
        await bun.until(lambda: bun.of(1, WS_END))
        assert raised == ["Unsupported ASGI message"], message
        assert decode_close(bun.of(1, WS_END)[0][3])[0] == 1011


# RSGI


async def test_rsgi_scope_accept_receive_send_close():
    log = []

    async def app(scope, protocol):
        log.append((scope.proto, scope.method, scope.path, scope.scheme, scope.headers.get("upgrade")))
        transport = await protocol.accept()
        while True:
            m = await transport.receive()
            log.append(m.kind)
            if m.kind == WebsocketMessageType.closed:
                break
            if m.kind == WebsocketMessageType.string:
                await transport.send_str(m.data + "!")
            else:
                await transport.send_bytes(m.data + b"!")
        protocol.close()

    bun = await FakeBun.serving(app, "rsgi")
    open_ws(bun)
    await bun.until(lambda: bun.of(1, WS_ACCEPT))
    assert log[0] == ("ws", "GET", "/ws", "http", "websocket")
    message(bun, 1, b"hi")
    message(bun, 1, b"\x00", binary=True)
    await bun.until(lambda: len(bun.of(1, WS_SEND)) == 2)
    assert [(f[1], f[3]) for f in bun.of(1, WS_SEND)] == [(FLAG_END, b"hi!"), (FLAG_END | FLAG_BINARY, b"\x00!")]
    bun.send(WS_CLOSE, 1, encode_close(1000))
    await bun.until(lambda: WebsocketMessageType.closed in log)
    await bun.settle()
    assert not bun.of(1, WS_END)
    assert log[1:] == [WebsocketMessageType.string, WebsocketMessageType.bytes, WebsocketMessageType.closed]


async def test_rsgi_close_before_accept_rejects_with_the_status():
    async def app(scope, protocol):
        protocol.close(404 if scope.path == "/missing" else None)

    bun = await FakeBun.serving(app, "rsgi")
    open_ws(bun, 1, "/missing")
    open_ws(bun, 2, "/other")
    assert (await bun.response(1)).status == 404
    assert (await bun.response(2)).status == 403


async def test_rsgi_close_after_accept_ends_normally_and_send_then_raises():
    outcome = []

    async def app(scope, protocol):
        transport = await protocol.accept()
        await transport.send_str("one")
        assert protocol.close(None) == (1000, True)
        try:
            await transport.send_str("two")
        except RuntimeError as exc:
            outcome.append(type(exc).__name__)

    bun = await FakeBun.serving(app, "rsgi")
    open_ws(bun)
    await bun.until(lambda: outcome)
    assert outcome == ["RSGIProtocolClosed"]
    await bun.until(lambda: bun.of(1, WS_END))
    assert decode_close(bun.of(1, WS_END)[0][3]) == (1000, "")
    assert len(bun.of(1, WS_SEND)) == 1


async def test_wsgi_serves_an_upgrade_as_a_plain_request():
    def app(environ, start_response):
        start_response("200 OK", [("content-type", "text/plain")])
        return [environ["HTTP_UPGRADE"].encode()]

    bun = await FakeBun.serving(app, "wsgi")
    open_ws(bun)
    r = await bun.response(1)
    assert (r.status, r.body) == (200, b"websocket")


async def test_asgi_close_after_the_client_left_is_a_no_op():
    outcome = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        await send({"type": "websocket.close", "code": 1000})
        outcome.append("closed quietly")

    bun = await FakeBun.serving(app, "asginl")
    open_ws(bun)
    await bun.until(lambda: bun.of(1, WS_ACCEPT))
    bun.send(WS_CLOSE, 1, encode_close(1001))
    await bun.until(lambda: outcome)
    await bun.settle()
    assert not bun.of(1, WS_END)


async def test_rsgi_refusals_are_granians():
    # Returning or raising before the accept: 403; a status no Response can carry: 500.
    async def app(scope, protocol):
        if scope.path == "/raise":
            raise RuntimeError("boom")
        if scope.path == "/close150":
            protocol.close(150)

    bun = await FakeBun.serving(app, "rsgi")
    for stream, path, status in [(1, "/return", 403), (2, "/raise", 403), (3, "/close150", 500)]:
        open_ws(bun, stream, path)
        response = await bun.response(stream)
        assert (response.status, response.body) == (status, b""), path


async def test_rsgi_websocket_sends_check_their_types():
    raised = []

    async def app(scope, protocol):
        transport = await protocol.accept()
        for send, data in [(transport.send_bytes, 5), (transport.send_bytes, "text"), (transport.send_str, b"bytes")]:
            try:
                await send(data)
            except TypeError as exc:
                raised.append(str(exc))
        protocol.close()

    bun = await FakeBun.serving(app, "rsgi")
    open_ws(bun)
    await bun.until(lambda: bun.of(1, WS_END))
    assert raised == ["send_bytes takes bytes, got int", "send_bytes takes bytes, got str", "send_str takes str, got bytes"]
    assert bun.of(1, WS_SEND) == []

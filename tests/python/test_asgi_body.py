"""Request bodies (REQUEST_ACK) and response bodies (chunking, RESPONSE_ACK window)."""

import asyncio

from fakes import FakeBun
from granian_ts.protocol import (
    DISCONNECT,
    FLAG_END,
    MAX_CHUNK,
    REQUEST,
    REQUEST_ACK,
    REQUEST_BODY,
    RESPONSE,
    RESPONSE_ACK,
    RESPONSE_BODY,
    U32,
    WINDOW,
)
from fakes import encode_request_head


def acks(bun, stream=1):
    return [U32.unpack(f[3])[0] for f in bun.of(stream, REQUEST_ACK)]


async def start_response(send, more_body=True, body=b""):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body, "more_body": more_body})


async def test_request_without_body_is_one_empty_message():
    messages = []

    async def app(scope, receive, send):
        messages.append(await receive())
        await start_response(send, more_body=False)

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.response()
    assert messages == [{"type": "http.request", "body": b"", "more_body": False}]
    assert acks(bun) == []


async def test_body_chunks_stream_to_the_app_and_are_acknowledged():
    messages = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            messages.append(message)
            if not message["more_body"]:
                break
        await start_response(send, more_body=False)

    bun = await FakeBun.serving(app, "asginl")
    bun.send(REQUEST, 1, encode_request_head(method="POST"))
    await bun.settle()
    bun.send(REQUEST_BODY, 1, b"abc")
    await bun.until(lambda: len(messages) == 1)
    bun.send(REQUEST_BODY, 1, b"defgh")
    await bun.until(lambda: len(messages) == 2)
    bun.send(REQUEST_BODY, 1, b"", end=True)
    await bun.response()
    assert messages == [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.request", "body": b"defgh", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    assert acks(bun) == [3, 5]


async def test_chunks_waiting_together_are_handed_over_as_one():
    messages = []

    async def app(scope, receive, send):
        await asyncio.sleep(0.01)  # let the whole body arrive first
        messages.append(await receive())
        await start_response(send, more_body=False)

    bun = await FakeBun.serving(app, "asginl")
    bun.send(REQUEST, 1, encode_request_head(method="POST"))
    bun.send(REQUEST_BODY, 1, b"ab")
    bun.send(REQUEST_BODY, 1, b"cd", end=True)
    await bun.response()
    assert messages == [{"type": "http.request", "body": b"abcd", "more_body": False}]
    assert acks(bun) == []  # taken after the body's end: Bun has nothing left to read


async def test_receive_after_the_body_waits_for_disconnect():
    messages = []

    async def app(scope, receive, send):
        messages.append(await receive())
        messages.append(await receive())

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.settle()
    assert len(messages) == 1  # still waiting: the client has not gone
    bun.send(DISCONNECT, 1)
    await bun.until(lambda: len(messages) == 2)
    assert messages[1] == {"type": "http.disconnect"}
    await bun.settle()
    assert bun.of(1) == []  # nothing is sent for a stream Bun has ended


async def test_receive_after_the_response_returns_disconnect():
    messages = []

    async def app(scope, receive, send):
        await receive()
        await start_response(send, more_body=False)
        messages.append(await receive())  # e.g. a background task: must not hang

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.response()
    await bun.until(lambda: messages == [{"type": "http.disconnect"}])


async def test_large_body_is_split_into_chunks_within_the_window():
    body = bytes(range(256)) * (MAX_CHUNK * 5 // 2 // 256)  # 2.5 MiB
    done = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        done.append(True)

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.until(lambda: len(bun.of(1)) == 1)
    await bun.settle()
    assert len(bun.of(1)) == 1  # 1 MiB outstanding: the next chunk waits for Bun
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    await bun.until(lambda: len(bun.of(1)) == 2)
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    response = await bun.response()
    assert response.body == body
    assert [(f[0], f[1], len(f[3]) - (4 + 3 if f[0] == RESPONSE else 0)) for f in response.frames] == [
        (RESPONSE, 0, MAX_CHUNK),
        (RESPONSE_BODY, 0, MAX_CHUNK),
        (RESPONSE_BODY, FLAG_END, len(body) - 2 * MAX_CHUNK),
    ]
    await bun.until(lambda: done)


async def test_send_blocks_past_the_window_until_acknowledged():
    sent = []

    async def app(scope, receive, send):
        await start_response(send, body=b"x" * WINDOW)
        sent.append("window")
        await send({"type": "http.response.body", "body": b"y", "more_body": True})
        sent.append("past")
        await send({"type": "http.response.body", "body": b""})

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.until(lambda: sent == ["window"])
    await bun.settle()
    assert sent == ["window"]
    bun.send(RESPONSE_ACK, 1, U32.pack(10))
    await bun.until(lambda: sent == ["window", "past"])
    response = await bun.response()
    assert response.body == b"x" * WINDOW + b"y"


async def test_disconnect_releases_a_blocked_send_and_later_sends_are_ignored():
    sent = []

    async def app(scope, receive, send):
        await start_response(send, body=b"x" * WINDOW)
        await send({"type": "http.response.body", "body": b"y", "more_body": True})
        sent.append("released")
        await send({"type": "http.response.body", "body": b"z"})
        sent.append("ignored")

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.until(lambda: len(bun.of(1)) == 1)
    bun.send(DISCONNECT, 1)
    await bun.until(lambda: sent == ["released", "ignored"])
    await bun.settle()
    assert len(bun.of(1)) == 1  # only the first chunk ever left


async def test_connection_loss_disconnects_every_stream():
    messages = []

    async def app(scope, receive, send):
        await receive()
        messages.append(await receive())

    bun = await FakeBun.serving(app, "asginl")
    bun.request(stream=1)
    bun.request(stream=2)
    await bun.settle()
    bun.conn.connection_lost(None)
    await bun.until(lambda: len(messages) == 2)
    assert messages == [{"type": "http.disconnect"}] * 2


async def test_headers_leave_when_the_app_waits_before_the_first_body():
    go = asyncio.Event()

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await go.wait()  # e.g. server-sent events: nothing to say yet
        await send({"type": "http.response.body", "body": b"data: 1\n\n"})

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.until(lambda: bun.of(1))
    (ftype, flags, _, payload), = bun.of(1)
    assert (ftype, flags) == (RESPONSE, 0)
    go.set()
    response = await bun.response()
    assert (response.status, response.body) == (200, b"data: 1\n\n")
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE, 0), (RESPONSE_BODY, FLAG_END)]


async def test_chunks_queued_past_max_chunk_reach_the_app_in_pieces_of_max_chunk():
    # Bun's window lets a little over WINDOW arrive before the app reads: the app still gets
    # pieces of at most MAX_CHUNK, every byte once, and more_body stays true until the last.
    messages = []
    started = asyncio.Event()

    async def app(scope, receive, send):
        await started.wait()
        while True:
            message = await receive()
            messages.append(message)
            if not message["more_body"]:
                break
        await start_response(send, more_body=False)

    bun = await FakeBun.serving(app, "asginl")
    bun.send(REQUEST, 1, encode_request_head(method="POST"))
    piece = 600 * 1024
    for i in range(3):
        bun.send(REQUEST_BODY, 1, bytes([i]) * piece, end=i == 2)
    started.set()
    await bun.response()
    assert all(len(m["body"]) <= MAX_CHUNK for m in messages)
    assert b"".join(m["body"] for m in messages) == b"\x00" * piece + b"\x01" * piece + b"\x02" * piece
    assert [m["more_body"] for m in messages][-1] is False
    assert all(m["more_body"] for m in messages[:-1])
    # All of it came before the app read (the fake has no window): no ack paces anything.
    assert acks(bun) == []


async def test_empty_chunks_carry_only_what_is_due():
    # The first empty chunk takes the held head out; a later empty one that is not the last
    # carries nothing and makes no frame; the last one ends the response.
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    response = await bun.response()
    assert response.body == b"x"
    assert [(f[0], f[1], len(f[3])) for f in response.frames] == [
        (RESPONSE, 0, 4 + 3),
        (RESPONSE_BODY, 0, 1),
        (RESPONSE_BODY, FLAG_END, 0),
    ]

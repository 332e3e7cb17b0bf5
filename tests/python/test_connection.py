"""Frame routing on one connection: control frames, unknown streams, protocol errors."""

from fakes import FakeBun, encode_request_head
from granian_ts.connection import OPEN_PER_TURN
from granian_ts.protocol import (
    DISCONNECT, FLAG_END, HEADER, HELLO, REQUEST, REQUEST_BODY, RESPONSE, RESPONSE_ACK, STOP, U32, encode_frame,
)


async def ok_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_control_frames_go_to_the_host():
    bun = await FakeBun.serving(ok_app, "asginl")
    bun.send(HELLO, 0)
    bun.send(STOP, 0)
    assert (bun.host.hellos, bun.host.stops) == (1, 1)


async def test_frames_for_unknown_streams_are_ignored():
    bun = await FakeBun.serving(ok_app, "asginl")
    bun.send(REQUEST_BODY, 42, b"late")
    bun.send(RESPONSE_ACK, 42, U32.pack(4))
    bun.send(DISCONNECT, 42)
    bun.request(stream=1)
    assert (await bun.response(1)).status == 204
    assert not bun.transport.closed


async def test_a_stream_id_can_be_reused_after_its_response():
    bun = await FakeBun.serving(ok_app, "asginl")
    bun.request(stream=5)
    await bun.response(5)
    bun.request(stream=5)
    await bun.until(lambda: len(bun.of(5, RESPONSE)) == 2)


async def test_a_protocol_error_closes_the_connection(caplog):
    bun = await FakeBun.serving(ok_app, "asginl")
    bun.conn.data_received(HEADER.pack(0, 0x7F, 0, 0, 1))
    assert bun.transport.closed
    assert "protocol error" in caplog.text


async def test_a_frame_only_python_sends_is_a_protocol_error():
    bun = await FakeBun.serving(ok_app, "asginl")
    bun.send(RESPONSE, 1, b"")
    assert bun.transport.closed


async def test_writes_wait_while_the_socket_is_paused():
    bun = await FakeBun.serving(ok_app, "asginl")
    bun.conn.pause_writing()
    bun.request()
    await bun.settle()
    assert bun.of(1) == []
    bun.conn.resume_writing()
    assert (await bun.response()).status == 204


async def echo_app(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def requests_with_bodies(streams):
    """One read as Bun sends a burst: every REQUEST first, then every body."""
    heads = [encode_frame(REQUEST, 0, s, encode_request_head(method="POST")) for s in streams]
    bodies = [encode_frame(REQUEST_BODY, FLAG_END, s, b"body %d" % s) for s in streams]
    return b"".join(heads + bodies)


async def test_a_burst_opens_a_bounded_number_of_streams_a_turn_and_serves_all_in_order():
    bun = await FakeBun.serving(echo_app, "asginl")
    count = OPEN_PER_TURN * 3 + 5
    bun.conn.data_received(requests_with_bodies(range(1, count + 1)))
    # The rest waits for the next turn: what is alive at once stays small (connection.py).
    assert len(bun.conn.streams) == OPEN_PER_TURN
    for stream in range(1, count + 1):
        response = await bun.response(stream)
        assert (response.status, response.body) == (200, b"body %d" % stream)


async def test_a_later_read_waits_behind_the_deferred_frames():
    bun = await FakeBun.serving(echo_app, "asginl")
    last = OPEN_PER_TURN + 8
    bun.conn.data_received(requests_with_bodies(range(1, last + 1))[: -len(encode_frame(REQUEST_BODY, FLAG_END, last, b"body %d" % last))])
    # The client of the last (deferred) stream leaves: this must reach it after it opened,
    # not be dropped as a frame for an unknown stream before it opens.
    bun.send(DISCONNECT, last)
    for stream in range(1, last):
        assert (await bun.response(stream)).body == b"body %d" % stream
    await bun.settle()
    assert bun.of(last) == []
    assert last not in bun.conn.streams


async def test_a_protocol_error_drops_the_deferred_frames(caplog):
    bun = await FakeBun.serving(echo_app, "asginl")
    bun.conn.data_received(requests_with_bodies(range(1, OPEN_PER_TURN + 9)))
    bun.conn.data_received(HEADER.pack(0, 0x7F, 0, 0, 1))
    assert bun.transport.closed
    assert "protocol error" in caplog.text
    await bun.settle()
    assert bun.of(OPEN_PER_TURN + 1) == []

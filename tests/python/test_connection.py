"""Frame routing on one connection: control frames, unknown streams, protocol errors."""

from fakes import FakeBun
from granian_ts.protocol import DISCONNECT, HEADER, HELLO, REQUEST_BODY, RESPONSE, RESPONSE_ACK, STOP, U32


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

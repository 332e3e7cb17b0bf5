"""The request body through an RSGI protocol: whole, or chunk by chunk, acknowledged as taken."""

import asyncio

import pytest

from fakes import FakeBun, encode_request_head
from granian_ts.protocol import DISCONNECT, REQUEST, REQUEST_ACK, REQUEST_BODY, U32, WINDOW
from granian_ts.rsgi import ProtocolClosed, ProtocolError


def acks(bun, stream=1):
    return [U32.unpack(f[3])[0] for f in bun.of(stream, REQUEST_ACK)]


def post(bun, stream=1):
    bun.send(REQUEST, stream, encode_request_head(method="POST"))


async def test_no_body_reads_as_empty_bytes():
    got = []

    async def app(scope, protocol):
        got.append(await protocol())
        protocol.response_empty(200, [])

    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.response()
    assert got == [b""] and acks(bun) == []


async def test_whole_body_is_gathered_and_acknowledged_as_it_arrives():
    got = []

    async def app(scope, protocol):
        got.append(await protocol())
        protocol.response_empty(200, [])

    bun = await FakeBun.serving(app, "rsgi")
    post(bun)
    await bun.settle()
    # More than the window: Bun only goes on once the first chunks are acknowledged, so the
    # worker must acknowledge while it gathers, not when the body is whole.
    bun.send(REQUEST_BODY, 1, b"a" * WINDOW)
    await bun.until(lambda: acks(bun) == [WINDOW])
    bun.send(REQUEST_BODY, 1, b"b" * 10)
    await bun.until(lambda: acks(bun) == [WINDOW, 10])
    assert got == []
    bun.send(REQUEST_BODY, 1, b"c", end=True)
    await bun.response()
    assert got == [b"a" * WINDOW + b"b" * 10 + b"c"]


async def test_chunks_are_iterated_and_acknowledged_one_take_at_a_time():
    got = []

    async def app(scope, protocol):
        async for chunk in protocol:
            got.append(chunk)
        protocol.response_empty(200, [])

    bun = await FakeBun.serving(app, "rsgi")
    post(bun)
    await bun.settle()
    bun.send(REQUEST_BODY, 1, b"abc")
    await bun.until(lambda: got == [b"abc"])
    bun.send(REQUEST_BODY, 1, b"de")
    bun.send(REQUEST_BODY, 1, b"f")  # arrived together: handed over as one
    await bun.until(lambda: len(got) == 2)
    bun.send(REQUEST_BODY, 1, b"", end=True)
    await bun.response()
    assert got == [b"abc", b"def"]
    assert acks(bun) == [3, 3]


@pytest.mark.parametrize("first, second", [("call", "call"), ("call", "iter"), ("iter", "call"), ("iter", "iter")])
async def test_the_body_can_be_read_once(first, second):
    errors = []

    async def read(protocol, how):
        if how == "call":
            return await protocol()
        return [c async for c in protocol]

    async def app(scope, protocol):
        await read(protocol, first)
        try:
            await read(protocol, second)
        except ProtocolError as exc:
            errors.append(exc)
        protocol.response_empty(200, [])

    bun = await FakeBun.serving(app, "rsgi")
    bun.request(body=b"xyz")
    await bun.response()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)


async def test_a_client_gone_mid_body_closes_a_whole_read():
    errors = []

    async def app(scope, protocol):
        try:
            await protocol()
        except ProtocolClosed as exc:
            errors.append(exc)

    bun = await FakeBun.serving(app, "rsgi")
    post(bun)
    bun.send(REQUEST_BODY, 1, b"part")
    await bun.settle()
    bun.send(DISCONNECT, 1)
    await bun.until(lambda: errors)
    await bun.settle()
    assert bun.of(1, REQUEST_ACK) and not [f for f in bun.of(1) if f[0] != REQUEST_ACK]


async def test_a_client_gone_mid_body_ends_the_iteration():
    got = []

    async def app(scope, protocol):
        async for chunk in protocol:
            got.append(chunk)
        got.append("end")

    bun = await FakeBun.serving(app, "rsgi")
    post(bun)
    bun.send(REQUEST_BODY, 1, b"part")
    await bun.until(lambda: got == [b"part"])
    bun.send(DISCONNECT, 1)
    await bun.until(lambda: got == [b"part", "end"])


async def test_reading_after_the_response_does_not_hang():
    got = []

    async def app(scope, protocol):
        protocol.response_empty(200, [])
        try:
            await asyncio.wait_for(protocol(), 1)
        except ProtocolClosed:
            got.append("closed")

    bun = await FakeBun.serving(app, "rsgi")
    post(bun)  # the body never comes: Bun stops reading it once the response is complete
    await bun.response()
    await bun.until(lambda: got == ["closed"])

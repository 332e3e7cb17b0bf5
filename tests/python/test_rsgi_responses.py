"""RSGI responses as frames: whole, streamed with flow control, files, and the failures."""

import asyncio
import logging
import os

import pytest

from fakes import FakeBun
from granian_ts.protocol import (
    DISCONNECT,
    FLAG_END,
    MAX_CHUNK,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_ACK,
    RESPONSE_BODY,
    RESPONSE_FILE,
    U32,
    WINDOW,
)
from granian_ts.rsgi import ProtocolClosed

ERROR_HEADERS = [(b"content-length", b"21"), (b"content-type", b"text/plain; charset=utf-8")]


async def serve_once(app, **request):
    bun = await FakeBun.serving(app, "rsgi")
    bun.request(**request)
    return bun, await bun.response()


def is_internal_error(response):
    return (response.status, response.body, response.aborted) == (500, b"Internal server error", None) and sorted(
        response.headers
    ) == ERROR_HEADERS


# Whole responses


@pytest.mark.parametrize(
    "call, body",
    [
        (lambda p: p.response_empty(204, [("x-a", "1")]), b""),
        (lambda p: p.response_str(200, [("x-a", "1")], "h\u00e9llo"), "h\u00e9llo".encode()),
        (lambda p: p.response_bytes(200, [("x-a", "1")], b"\x00\xff"), b"\x00\xff"),
        (lambda p: p.response_bytes(200, [("x-a", "1")], bytearray(b"ba")), b"ba"),
    ],
)
async def test_whole_responses_are_one_frame(call, body):
    async def app(scope, protocol):
        call(protocol)

    _, response = await serve_once(app)
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE, FLAG_END)]
    assert response.headers == [(b"x-a", b"1")] and response.body == body


async def test_header_text_goes_out_as_utf8_and_repeats_are_kept():
    async def app(scope, protocol):
        protocol.response_str(200, [("x-a", "caf\u00e9"), ("x-b", "\u20ac"), ("set-cookie", "a"), ("set-cookie", "b")], "")

    _, response = await serve_once(app)
    assert response.headers == [
        (b"x-a", "caf\u00e9".encode()), (b"x-b", "\u20ac".encode()), (b"set-cookie", b"a"), (b"set-cookie", b"b"),
    ]


async def test_the_first_response_wins():
    async def app(scope, protocol):
        protocol.response_str(200, [], "one")
        protocol.response_str(201, [], "two")
        protocol.response_file(200, [], "/etc/hostname")
        transport = protocol.response_stream(200, [])
        with pytest.raises(ProtocolClosed):
            await transport.send_bytes(b"three")

    bun, response = await serve_once(app)
    await bun.settle()
    assert (response.status, response.body) == (200, b"one")
    assert len(bun.of(1)) == 1


async def test_a_large_body_goes_in_chunks_within_the_window():
    body = bytes(range(256)) * (MAX_CHUNK * 5 // 2 // 256)  # 2.5 MiB

    async def app(scope, protocol):
        protocol.response_bytes(200, [], body)

    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.until(lambda: len(bun.of(1)) == 1)
    await bun.settle()
    assert len(bun.of(1)) == 1  # 1 MiB outstanding: the rest waits for Bun
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    await bun.until(lambda: len(bun.of(1)) == 2)
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    response = await bun.response()
    assert response.body == body
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE, 0), (RESPONSE_BODY, 0), (RESPONSE_BODY, FLAG_END)]


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda p: p.response_str(200, [], b"bytes"), TypeError),
        (lambda p: p.response_bytes(200, [], "text"), TypeError),
        (lambda p: p.response_str(200, [(b"x-a", b"1")], ""), TypeError),
        (lambda p: p.response_str(200, [("x-a", "1\r\nset-cookie: evil=1")], ""), ValueError),
        (lambda p: p.response_empty(99, []), ValueError),
        (lambda p: p.response_empty("200", []), ValueError),
        (lambda p: p.response_file_range(206, [], "/f", 5, 5), ValueError),
        (lambda p: p.response_file_range(206, [], "/f", -1, 3), ValueError),
        (lambda p: p.response_file_range(206, [], "/f", 0, "3"), TypeError),
        (lambda p: p.response_file(200, [], b"/f"), TypeError),
        (lambda p: p.response_stream(600, []), ValueError),
        (lambda p: p.response_empty(True, []), ValueError),
        (lambda p: p.response_str(200, [("bad name", "v")], ""), ValueError),
        (lambda p: p.response_str(200, [("bad:name", "v")], ""), ValueError),
        (lambda p: p.response_str(200, [("", "v")], ""), ValueError),
        (lambda p: p.response_str(200, [("x-a", "1\x01")], ""), ValueError),
        (lambda p: p.response_str(200, [("x-a", "1", "2")], ""), TypeError),
        (lambda p: p.response_str(200, None, ""), TypeError),
        (lambda p: p.response_stream(200, [("caf\u00e9", "v")]), ValueError),
        (lambda p: p.response_file(200, [("a b", "v")], "/f"), ValueError),
        (lambda p: p.response_file(200, [], "/f\0x"), ValueError),
        (lambda p: p.response_file(200, [], None), TypeError),
        (lambda p: p.response_bytes(200, [], 5), TypeError),
        (lambda p: p.response_bytes(200, [], None), TypeError),
    ],
)
async def test_bad_arguments_raise_in_the_app_and_the_client_gets_a_500(call, error):
    raised = []

    async def app(scope, protocol):
        try:
            call(protocol)
        except Exception as exc:
            raised.append(exc)
            raise

    _, response = await serve_once(app)
    assert isinstance(raised[0], error), raised
    assert is_internal_error(response)


async def test_a_response_after_the_client_left_sends_nothing():
    async def app(scope, protocol):
        await protocol.client_disconnect()
        protocol.response_str(200, [], "late")
        done.set()

    done = asyncio.Event()
    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.settle()
    bun.send(DISCONNECT, 1)
    await asyncio.wait_for(done.wait(), 1)
    await bun.settle()
    assert bun.of(1) == []


# Streams


async def test_a_stream_sends_its_head_with_the_first_chunk_and_ends_when_the_app_returns():
    async def app(scope, protocol):
        transport = protocol.response_stream(200, [("content-type", "text/plain")])
        await transport.send_bytes(b"one ")
        await transport.send_str("tw\u00f6 ")
        await transport.send_bytes(memoryview(b"three"))

    _, response = await serve_once(app)
    assert response.body == "one tw\u00f6 three".encode()
    assert [(f[0], f[1]) for f in response.frames] == [
        (RESPONSE, 0), (RESPONSE_BODY, 0), (RESPONSE_BODY, 0), (RESPONSE_BODY, FLAG_END),
    ]


async def test_a_stream_head_leaves_at_once_when_the_app_waits_before_its_first_chunk():
    go = asyncio.Event()

    async def app(scope, protocol):
        transport = protocol.response_stream(200, [])
        await go.wait()
        await transport.send_bytes(b"late")

    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.until(lambda: bun.of(1))
    assert [(f[0], f[1], f[3][4:]) for f in bun.of(1)] == [(RESPONSE, 0, b"200")]
    go.set()
    response = await bun.response()
    assert response.body == b"late"


async def test_an_empty_stream_is_one_frame():
    async def app(scope, protocol):
        protocol.response_stream(204, [])

    _, response = await serve_once(app)
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE, FLAG_END)]


async def test_stream_sends_wait_for_acknowledgements_past_the_window():
    sent = []

    async def app(scope, protocol):
        transport = protocol.response_stream(200, [])
        for i in range(3):
            await transport.send_bytes(bytes([i]) * (WINDOW // 2))
            sent.append(i)
        await transport.send_bytes(b"x" * (MAX_CHUNK + 10))  # split in two frames
        sent.append("big")

    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.until(lambda: sent == [0, 1])
    await bun.settle()
    assert sent == [0, 1]  # the third would put 1.5 MiB in flight
    bun.send(RESPONSE_ACK, 1, U32.pack(WINDOW // 2))
    await bun.until(lambda: sent == [0, 1, 2])
    bun.send(RESPONSE_ACK, 1, U32.pack(WINDOW))
    await bun.until(lambda: len(bun.of(1)) == 4)
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    response = await bun.response()
    assert sent == [0, 1, 2, "big"]
    assert len(response.body) == 3 * (WINDOW // 2) + MAX_CHUNK + 10


async def test_sends_after_the_client_left_raise_protocol_closed():
    errors = []

    async def app(scope, protocol):
        transport = protocol.response_stream(200, [])
        await transport.send_bytes(b"x" * WINDOW)
        try:
            await transport.send_bytes(b"blocked by the window, then the client leaves")
        except ProtocolClosed as exc:
            errors.append(exc)
        try:
            await transport.send_str("and after")
        except ProtocolClosed as exc:
            errors.append(exc)

    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.until(lambda: bun.of(1))
    bun.send(DISCONNECT, 1)
    await bun.until(lambda: len(errors) == 2)
    await bun.settle()
    assert [f[0] for f in bun.of(1)] == [RESPONSE]  # no END, no abort: Bun ended the stream


async def test_a_transport_used_after_the_app_returned_is_closed():
    kept = []

    async def app(scope, protocol):
        kept.append(protocol.response_stream(200, []))

    _, response = await serve_once(app)
    assert response.frames[-1][1] & FLAG_END
    with pytest.raises(ProtocolClosed):
        await kept[0].send_bytes(b"late")


async def test_transport_type_errors():
    raised = []

    async def app(scope, protocol):
        transport = protocol.response_stream(200, [])
        for call in (lambda: transport.send_bytes("str"), lambda: transport.send_str(b"bytes")):
            try:
                await call()
            except TypeError as exc:
                raised.append(exc)
        await transport.send_str("ok")

    _, response = await serve_once(app)
    assert len(raised) == 2 and response.body == b"ok"


async def test_client_disconnect_resolves_on_disconnect_for_every_waiter():
    resolved = []

    async def app(scope, protocol):
        transport = protocol.response_stream(200, [])
        await transport.send_bytes(b"start")
        cancelled = asyncio.ensure_future(protocol.client_disconnect())
        await asyncio.sleep(0)
        cancelled.cancel()  # one waiter giving up must not cancel the others
        await asyncio.gather(protocol.client_disconnect(), protocol.client_disconnect())
        resolved.append(True)
        await protocol.client_disconnect()  # already gone: returns at once
        resolved.append(True)

    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.until(lambda: bun.of(1))
    await bun.settle()
    assert resolved == []
    bun.send(DISCONNECT, 1)
    await bun.until(lambda: resolved == [True, True])


# Files


async def test_response_file_takes_a_pathlike():
    import pathlib

    async def app(scope, protocol):
        protocol.response_file(200, [], pathlib.Path("/srv/f.txt"))

    _, response = await serve_once(app)
    assert response.file == ["/srv/f.txt"]


async def test_response_file_is_one_frame_with_the_path():
    async def app(scope, protocol):
        protocol.response_file(200, [("content-type", "text/plain")], "/srv/static/caf\u00e9.txt")

    _, response = await serve_once(app)
    assert [(f[0], f[1]) for f in response.frames] == [(RESPONSE_FILE, FLAG_END)]
    assert (response.status, response.headers) == (200, [(b"content-type", b"text/plain")])
    assert response.file == ["/srv/static/caf\u00e9.txt"]


async def test_response_file_range_carries_start_and_end():
    async def app(scope, protocol):
        protocol.response_file_range(206, [("content-range", "bytes 2-4/20")], "/srv/data.bin", 2, 5)

    _, response = await serve_once(app)
    assert response.status == 206 and response.file == ["/srv/data.bin", "2", "5"]


async def test_a_relative_path_is_the_apps_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def app(scope, protocol):
        protocol.response_file(200, [], "static/a.txt")

    _, response = await serve_once(app)
    assert response.file == [os.path.join(str(tmp_path), "static/a.txt")]


# Failures


async def test_exception_before_responding_is_a_500_with_the_traceback_logged(caplog):
    async def app(scope, protocol):
        raise ValueError("boom")

    _, response = await serve_once(app)
    assert is_internal_error(response)
    record = next(r for r in caplog.records if r.message == "Exception in RSGI application")
    assert record.levelno == logging.ERROR and "ValueError: boom" in caplog.text


async def test_exception_after_a_stream_started_but_before_any_chunk_is_still_a_500():
    async def app(scope, protocol):
        protocol.response_stream(200, [])
        raise ValueError("boom")

    _, response = await serve_once(app)
    assert is_internal_error(response)


async def test_exception_after_the_stream_head_left_aborts(caplog):
    async def app(scope, protocol):
        transport = protocol.response_stream(200, [])
        await transport.send_bytes(b"partial")
        raise ValueError("boom")

    _, response = await serve_once(app)
    assert (response.status, response.body) == (200, b"partial")
    assert response.aborted and "Exception in RSGI application" in caplog.text


async def test_exception_after_a_whole_response_leaves_it_alone(caplog):
    async def app(scope, protocol):
        protocol.response_str(200, [], "fine")
        raise ValueError("boom")

    bun, response = await serve_once(app)
    await bun.settle()
    assert (response.status, response.body, response.aborted) == (200, b"fine", None)
    assert len(bun.of(1)) == 1 and "ValueError: boom" in caplog.text


async def test_returning_without_a_response_is_a_500(caplog):
    async def app(scope, protocol):
        pass

    _, response = await serve_once(app)
    assert is_internal_error(response)
    assert "RSGI callable returned without a response." in caplog.text


async def test_cancelled_while_a_large_body_waits_for_the_window_aborts():
    async def app(scope, protocol):
        protocol.response_bytes(200, [], b"x" * (MAX_CHUNK + 1))

    bun = await FakeBun.serving(app, "rsgi")
    bun.request()
    await bun.until(lambda: bun.of(1))
    for task in list(bun.host.interface._tasks):  # what the worker's exit does to running requests
        task.cancel()
    response = await bun.response()
    assert [f[0] for f in response.frames] == [RESPONSE, RESPONSE_ABORT]

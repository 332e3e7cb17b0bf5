"""Apps that fail: 500 while nothing is on the wire, RESPONSE_ABORT once something is."""

import asyncio
import logging

import pytest

from fakes import FakeBun

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}


def is_internal_error(response):
    return (response.status, response.body, response.aborted) == (500, b"Internal server error", None) and sorted(
        response.headers
    ) == [(b"content-length", b"21"), (b"content-type", b"text/plain; charset=utf-8")]


async def serve_once(app):
    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    return await bun.response()


async def test_exception_before_start_is_a_500(caplog):
    async def app(scope, receive, send):
        raise ValueError("boom")

    assert is_internal_error(await serve_once(app))
    record = next(r for r in caplog.records if r.message == "Exception in ASGI application")
    assert record.levelno == logging.ERROR and "ValueError: boom" in caplog.text


async def test_exception_after_start_but_before_any_body_is_still_a_500():
    async def app(scope, receive, send):
        await send(START)
        raise ValueError("boom")

    assert is_internal_error(await serve_once(app))


async def test_exception_after_the_head_left_aborts(caplog):
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom")

    response = await serve_once(app)
    assert (response.status, response.body) == (200, b"partial")
    assert response.aborted
    assert "Exception in ASGI application" in caplog.text


async def test_returning_without_a_response_is_a_500(caplog):
    async def app(scope, receive, send):
        pass

    assert is_internal_error(await serve_once(app))
    assert "ASGI callable returned without starting response." in caplog.text


async def test_returning_with_an_unfinished_body_aborts(caplog):
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})

    response = await serve_once(app)
    assert response.aborted
    assert "ASGI callable returned without completing response." in caplog.text


def message_of(exc):
    """What an app sees of a send error: its text, and its notes (the detail the log shows)."""
    return " | ".join([str(exc), *getattr(exc, "__notes__", ())])


@pytest.mark.parametrize(
    "messages, error",
    [
        # Granian's own errors, to the letter.
        ([{"type": "foo"}], "Unsupported ASGI message"),
        ([{"status": 200}], "Unsupported ASGI message"),
        ([START, {"type": "http.response.foo"}], "Unsupported ASGI message"),
        ([START, {"type": "http.response.trailers", "headers": []}], "Unsupported ASGI message"),
        ([{"type": "http.response.body", "body": b""}], "ASGI flow error: Response not started"),
        ([{"type": "http.response.pathsend", "path": "/etc/hostname"}], "ASGI flow error: Response not started"),
        ([START, START], "ASGI flow error: Response already started"),
        ([START, {"type": "http.response.body"}, {"type": "http.response.body"}], "ASGI flow error: Response already finished"),
    ],
)
async def test_wrong_messages_raise_granians_errors_in_send(messages, error):
    raised = []

    async def app(scope, receive, send):
        try:
            for message in messages:
                await send(message)
        except RuntimeError as exc:
            raised.append(str(exc))

    bun = await FakeBun.serving(app, "asginl")
    bun.request()
    await bun.until(lambda: raised)
    assert raised[0] == error


@pytest.mark.parametrize(
    "start, detail",
    [
        ({"status": "200"}, "status must be an int in 200..599, got '200'"),
        ({"status": True}, "got True"),
        ({"status": 103}, "got 103"),
        ({"status": 600}, "got 600"),
        ({"status": None}, "got None"),
        ({"headers": [("content-type", "text/plain")]}, "must be bytes, got 'content-type'"),
        ({"headers": [(b"bad name", b"v")]}, "invalid response header name b'bad name'"),
        ({"headers": [(b"bad:name", b"v")]}, "invalid response header name b'bad:name'"),
        ({"headers": [(b"", b"v")]}, "invalid response header name b''"),
        ({"headers": [(b"x-bad", b"a\r\nset-cookie: evil=1")]}, "contains NUL, CR or LF"),
        ({"headers": [(b"x-bad", b"a\0b\0c")]}, "contains NUL, CR or LF"),
        ({"headers": None}, "(name, value) pairs"),
        ({"headers": [(b"a", b"b", b"c")]}, "(name, value) pairs"),
    ],
)
async def test_bad_response_start_values_raise_and_cost_one_500(start, detail, caplog):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [], **start})
        await send({"type": "http.response.body", "body": b"never"})

    assert is_internal_error(await serve_once(app))
    record = next(r for r in caplog.records if r.message == "Exception in ASGI application")
    exc = record.exc_info[1]
    assert str(exc) == "Unsupported ASGI message" and detail in message_of(exc)
    # The log names the culprit (the note is part of the logged traceback).
    assert detail in caplog.text


@pytest.mark.parametrize(
    "body, detail",
    [("text", "got str"), (5, "got int"), (None, "got NoneType"), ([65, 66], "got list")],
)
async def test_a_body_that_is_not_bytes_raises(body, detail):
    raised = []

    async def app(scope, receive, send):
        await send(START)
        try:
            await send({"type": "http.response.body", "body": body})
        except RuntimeError as exc:
            raised.append(message_of(exc))
            raise

    assert is_internal_error(await serve_once(app))
    assert raised[0].startswith("Unsupported ASGI message") and detail in raised[0]


async def test_bytes_like_bodies_and_header_fields_are_taken():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(bytearray(b"x-a"), memoryview(b"b"))]})
        await send({"type": "http.response.body", "body": bytearray(b"ab"), "more_body": True})
        await send({"type": "http.response.body", "body": memoryview(b"cd")})

    response = await serve_once(app)
    assert (response.status, response.headers, response.body) == (200, [(b"x-a", b"b")], b"abcd")


@pytest.mark.parametrize(
    "path, detail",
    [(b"/etc/hostname", "must be str, got bytes"), (None, "must be str, got NoneType"), ("/etc/host\0name", "NUL")],
)
async def test_a_bad_pathsend_path_is_a_500_even_in_the_tick_of_the_start(path, detail):
    raised = []

    async def app(scope, receive, send):
        await send(START)
        try:
            await send({"type": "http.response.pathsend", "path": path})
        except RuntimeError as exc:
            raised.append(message_of(exc))
            raise

    # The head was still held: the client gets a whole 500, not a cut response.
    assert is_internal_error(await serve_once(app))
    assert detail in raised[0]


async def test_a_bad_body_after_the_head_left_aborts_with_the_value_in_the_log(caplog):
    async def app(scope, receive, send):
        await send(START)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await asyncio.sleep(0.01)  # the head and the first chunk are on the wire
        await send({"type": "http.response.body", "body": "not bytes"})

    response = await serve_once(app)
    assert (response.status, response.body) == (200, b"partial")
    assert response.aborted
    assert "http.response.body 'body' must be bytes, got str" in caplog.text

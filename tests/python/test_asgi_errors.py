"""Apps that fail: 500 while nothing is on the wire, RESPONSE_ABORT once something is."""

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


@pytest.mark.parametrize(
    "messages, error",
    [
        ([{"type": "foo"}], "Unexpected ASGI message 'foo', expected 'http.response.start'."),
        ([{"type": "http.response.body", "body": b""}], "expected 'http.response.start'"),
        ([START, START], "Unexpected ASGI message 'http.response.start', expected 'http.response.body'."),
        ([START, {"type": "http.response.body"}, {"type": "http.response.body"}], "after response already completed"),
        ([{**START, "status": "200"}], "status must be an int"),
        ([{**START, "status": 103}], "in 200..599"),
    ],
)
async def test_wrong_messages_raise_in_send(messages, error):
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
    assert error in raised[0]


@pytest.mark.parametrize(
    "headers, error",
    [
        ([("content-type", "text/plain")], TypeError),
        ([(b"x-bad", b"a\r\nset-cookie: evil=1")], ValueError),
    ],
)
async def test_invalid_response_headers_raise_in_send(headers, error):
    raised = []

    async def app(scope, receive, send):
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
        except Exception as exc:
            raised.append(exc)
            raise

    response = await serve_once(app)
    assert isinstance(raised[0], error)
    assert is_internal_error(response)

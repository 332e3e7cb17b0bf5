"""WSGI apps that fail: 500 while nothing is on the wire, RESPONSE_ABORT after; the worker serves on."""

import logging
import sys
import threading

import pytest

from fakes import encode_request_head
from granian_ts.interfaces.wsgi import encode_wsgi_head
from granian_ts.protocol import REQUEST, RESPONSE
from wsgi_fakes import disconnect, serve_wsgi  # noqa: F401 (fixture)


def is_internal_error(response):
    return (response.status, response.body, response.aborted) == (500, b"Internal server error", None)


async def serve_once(serve_wsgi, app):
    bun = await serve_wsgi(app)
    bun.request()
    return await bun.response()


async def test_exception_is_a_500_with_the_traceback_logged(serve_wsgi, caplog):
    def app(environ, start_response):
        raise ValueError("boom")

    assert is_internal_error(await serve_once(serve_wsgi, app))
    record = next(r for r in caplog.records if r.message == "Exception in WSGI application")
    assert record.levelno == logging.ERROR and record.exc_info and "ValueError: boom" in caplog.text


async def test_exception_after_the_head_left_aborts(serve_wsgi, caplog):
    release = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"partial"
        release.wait(2)
        raise ValueError("late boom")

    bun = await serve_wsgi(app)
    bun.request()
    await bun.until(lambda: bun.of(1, RESPONSE))
    release.set()
    response = await bun.response()
    assert (response.status, response.body) == (200, b"partial")
    assert response.aborted
    assert "late boom" in caplog.text


async def test_start_response_never_called(serve_wsgi, caplog):
    def app(environ, start_response):
        return [b"no status"]

    assert is_internal_error(await serve_once(serve_wsgi, app))
    assert "did not call start_response()" in caplog.text


@pytest.mark.parametrize(
    "status, headers, message",
    [
        ("OK", [], "invalid WSGI status line 'OK'"),
        ("20 OK", [], "invalid WSGI status line '20 OK'"),
        ("200OK", [], "invalid WSGI status line '200OK'"),
        (200, [], "WSGI status must be a str"),
        ("101 Switching Protocols", [], "WSGI status 101 is not supported"),
        ("200 OK", [("X Bad", "v")], "invalid WSGI response header name 'X Bad'"),
        ("200 OK", [("X-Split", "a\r\nInjected: 1")], "contains NUL, CR or LF"),
        ("200 OK", [("X-Bytes", b"v")], "must be str"),
        ("200 OK", [("X-Wide", "\u20ac")], "is not latin-1"),
        ("200 OK", [("X-Three", "a", "b")], "list of (name, value) tuples"),
        ("200 OK", None, "list of (name, value) tuples"),
    ],
)
async def test_bad_status_or_headers_are_a_500_that_says_why(serve_wsgi, caplog, status, headers, message):
    def app(environ, start_response):
        start_response(status, headers)
        return [b"x"]

    assert is_internal_error(await serve_once(serve_wsgi, app))
    assert message in caplog.text


async def test_a_body_that_is_not_bytes_is_a_500(serve_wsgi, caplog):
    def app(environ, start_response):
        start_response("200 OK", [])
        return ["text"]

    assert is_internal_error(await serve_once(serve_wsgi, app))
    assert "WSGI response body items must be bytes, got str" in caplog.text


async def test_exc_info_replaces_a_response_not_yet_sent(serve_wsgi):
    def app(environ, start_response):
        start_response("200 OK", [("X-First", "1")])
        try:
            raise KeyError("handled")
        except KeyError:
            start_response("503 Service Unavailable", [("X-Second", "1")], sys.exc_info())
        return [b"sorry"]

    response = await serve_once(serve_wsgi, app)
    assert (response.status, response.headers, response.body) == (503, [(b"X-Second", b"1")], b"sorry")


async def test_exc_info_after_the_head_was_sent_reraises(serve_wsgi, caplog):
    raised = []

    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"sent")
        try:
            raise KeyError("original")
        except KeyError:
            try:
                start_response("500 Oops", [], sys.exc_info())
            except KeyError as exc:
                raised.append(exc)
                raise
        return []

    await serve_once(serve_wsgi, app)
    assert str(raised[0]) == "'original'"
    assert "KeyError: 'original'" in caplog.text


async def test_second_start_response_without_exc_info_is_an_error(serve_wsgi, caplog):
    def app(environ, start_response):
        start_response("200 OK", [])
        start_response("404 Not Found", [])
        return [b""]

    assert is_internal_error(await serve_once(serve_wsgi, app))
    assert "start_response() was already called" in caplog.text


async def test_close_is_called_when_the_iteration_fails_and_its_errors_are_logged(serve_wsgi, caplog):
    closed = []

    class Body:
        def __iter__(self):
            raise ValueError("iteration failed")

        def close(self):
            closed.append(True)
            raise OSError("close failed too")

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    bun = await serve_wsgi(app)
    bun.request()
    assert is_internal_error(await bun.response())
    # close() runs after the 500 was handed to the loop: wait for it
    await bun.until(lambda: "close failed too" in caplog.text)
    assert closed == [True]
    assert "iteration failed" in caplog.text


async def test_the_worker_keeps_serving_after_errors(serve_wsgi):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/fail":
            raise RuntimeError("boom")
        start_response("200 OK", [])
        return [b"fine"]

    bun = await serve_wsgi(app, blocking_threads=1)
    for i in range(1, 7):
        bun.request(stream=i, path="/fail" if i % 2 else "/ok")
    for i in range(1, 7):
        response = await bun.response(i)
        assert response.status == (500 if i % 2 else 200)


async def test_an_app_failing_after_the_client_left_logs_quietly(serve_wsgi, caplog):
    gone = threading.Event()
    done = []

    def app(environ, start_response):
        gone.wait(2)
        try:
            environ["wsgi.input"].read()
        finally:
            done.append(True)

    bun = await serve_wsgi(app)
    bun.send(REQUEST, 1, encode_request_head(method="POST"))
    await disconnect(bun, 1)
    gone.set()
    await bun.until(lambda: done)
    await bun.settle()
    assert "Exception in WSGI application" not in caplog.text
    assert bun.of(1) == []


def test_encode_wsgi_head_is_the_protocol_head():
    head = encode_wsgi_head("404 Not Found", [("Content-Type", "text/plain"), ("X-Latin", "caf\u00e9")])
    # status code, then names and values; latin-1 code points as UTF-8 (docs/protocol.md)
    assert head[4:] == "404\0Content-Type\0text/plain\0X-Latin\0caf\u00e9".encode("utf-8")
    assert int.from_bytes(head[:4], "little") == len(head) - 4

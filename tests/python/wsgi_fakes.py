"""FakeBun serving a WSGI app: the `serve_wsgi` fixture, imported by the test_wsgi_* modules."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, List, Optional

import pytest

from fakes import FakeBun
from granian_ts.protocol import DISCONNECT


@pytest.fixture
def serve_wsgi():
    """`await serve_wsgi(app, **config)` → a FakeBun; the blocking threads stop after the test."""
    buns: List[FakeBun] = []

    async def serve(app: Callable[..., Any], **options: Any) -> FakeBun:
        options.setdefault("blocking_threads", 4)
        bun = await FakeBun.serving(app, "wsgi", **options)
        buns.append(bun)
        return bun

    yield serve
    for bun in buns:
        bun.host.interface.pool.shutdown()
        for link in list(bun.host.interface._links):
            link.close()
        bun.close()


def gated_app(gate: threading.Event) -> Callable[..., Any]:
    """A WSGI app echoing its path; `/block` waits for `gate` first (at most 5 s)."""

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/block":
            gate.wait(5)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    return app


def body_reader_app(errors: List[BaseException], reading: Optional[threading.Event] = None) -> Callable[..., Any]:
    """A WSGI app reading its whole body; the OSError a read raises goes to `errors`, and up.
    `reading` is set once the app starts reading."""

    def app(environ, start_response):
        if reading is not None:
            reading.set()
        try:
            environ["wsgi.input"].read()
        except OSError as exc:
            errors.append(exc)
            raise
        start_response("200 OK", [])
        return [b""]

    return app


def json_app(build: Callable[[dict], Any]) -> Callable[..., Any]:
    """A WSGI app answering JSON of `build(environ)`."""

    def app(environ, start_response):
        body = json.dumps(build(environ)).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


async def disconnect(bun: FakeBun, stream: int) -> None:
    """DISCONNECT from Bun, and wait until the link's reader took it: frames cross a socket to
    the app threads, so a test that then lets the app go on must not race them."""
    bun.send(DISCONNECT, stream)
    (link,) = bun.host.interface._links
    await bun.until(lambda: stream not in link.streams)

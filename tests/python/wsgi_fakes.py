"""FakeBun serving a WSGI app: the `serve_wsgi` fixture, imported by the test_wsgi_* modules."""

from __future__ import annotations

import json
from typing import Any, Callable, List

import pytest

from fakes import FakeBun


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


def json_app(build: Callable[[dict], Any]) -> Callable[..., Any]:
    """A WSGI app answering JSON of `build(environ)`."""

    def app(environ, start_response):
        body = json.dumps(build(environ)).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app

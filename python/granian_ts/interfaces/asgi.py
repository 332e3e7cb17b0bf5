"""ASGI 3.0 over the frame protocol: HTTP spec 2.3 (https://asgi.readthedocs.io/en/latest/specs/www.html).

`ASGIInterface` turns a REQUEST frame into a scope and an `HTTPStream` (uvicorn calls it the
request/response cycle) whose `receive`/`send` the app drives as an ordinary asyncio task,
so contextvars, sniffio and cancellation behave as under any asyncio server.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Dict, Set
from urllib.parse import unquote_to_bytes

from ..lifespan import LifespanOff, LifespanOn
from ..protocol import (
    FLAG_END,
    MAX_CHUNK,
    RESPONSE_FILE,
    decode_request_head,
    encode_file_target,
    encode_response_head_prefix,
)
from ._asgi_errors import unsupported as _unsupported
from ._asgi_websocket import ASGIWebsocket, subprotocols_of
from ._http import HTTPExchange
from .base import Interface, Stream

if TYPE_CHECKING:
    from ..config import Config
    from ..connection import Connection

logger = logging.getLogger(__name__)


_DISCONNECT = {"type": "http.disconnect"}


def _decode_path(raw_path: bytes) -> str:
    # scope["path"] is the percent-decoded UTF-8 of the target; most paths need no decoding.
    if b"%" not in raw_path and raw_path.isascii():
        return raw_path.decode("ascii")
    return unquote_to_bytes(raw_path).decode("utf-8", "replace")


class ASGIInterface(Interface):
    lifespan_class: Any = LifespanOn

    def __init__(self, app: Any, config: "Config") -> None:
        super().__init__(app, config)
        self.lifespan = self.lifespan_class(app)
        self._root_path = config.root_path
        # ASGI spec: a Unix socket's server is [path, None].
        self._server = (config.server_host, None if config.server_unix else config.server_port)
        # The loop only holds weak references to tasks; these keep running requests alive.
        self._tasks: Set[asyncio.Task] = set()

    async def startup(self) -> None:
        await self.lifespan.startup()

    async def shutdown(self) -> None:
        await self.lifespan.shutdown()

    def open_stream(self, conn: "Connection", stream_id: int, head: bytes, end: bool) -> Stream:
        method, scheme, http_version, host, port, raw_path, query, headers = decode_request_head(head)
        scope: Dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": http_version,
            "method": method,
            "scheme": scheme,
            # As granian does: the path as the client sent it; `root_path` only tells the app
            # where it is mounted (a proxy keeps the prefix in the path; ASGI www spec).
            "path": _decode_path(raw_path),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": self._root_path,
            "headers": headers,
            "client": (host, port) if host else None,
            "server": self._server,
            # Bun sends the file itself (RESPONSE_FILE): https://asgi.readthedocs.io/en/latest/extensions.html#path-send
            "extensions": {"http.response.pathsend": {}},
        }
        state = self.lifespan.state
        if state is not None:
            scope["state"] = state.copy()
        stream = HTTPStream(conn, stream_id, end)
        tasks = self._tasks
        stream._spawn(conn, stream_id, stream.run(self.app, scope, tasks), tasks, self.step_tasks)
        return stream


    def open_websocket(self, conn: "Connection", stream_id: int, head: bytes) -> Stream:
        _method, scheme, http_version, host, port, raw_path, query, headers = decode_request_head(head)
        scope: Dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": http_version,
            "scheme": "wss" if scheme == "https" else "ws",
            "path": _decode_path(raw_path),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": self._root_path,
            "headers": headers,
            "client": (host, port) if host else None,
            "server": self._server,
            "subprotocols": subprotocols_of(headers),
            # https://asgi.readthedocs.io/en/latest/extensions.html#websocket-denial-response
            "extensions": {"websocket.http.response": {}},
        }
        state = self.lifespan.state
        if state is not None:
            scope["state"] = state.copy()
        stream = ASGIWebsocket(conn, stream_id)
        tasks = self._tasks
        stream._spawn(conn, stream_id, stream.run(self.app, scope, tasks), tasks, self.step_tasks)
        return stream


class ASGINoLifespanInterface(ASGIInterface):
    lifespan_class = LifespanOff


class HTTPStream(HTTPExchange):
    """One HTTP exchange: request body in through `receive`, response out through `send`."""

    __slots__ = ("_body_taken",)

    def __init__(self, conn: "Connection", stream_id: int, body_end: bool) -> None:
        HTTPExchange.__init__(self, conn, stream_id, body_end)
        self._body_taken = False  # the app received more_body=False

    async def run(self, app: Any, scope: Dict[str, Any], tasks: Set[asyncio.Task]) -> None:
        try:
            await app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            self._fail("the ASGI application was cancelled")
            raise
        except Exception:
            logger.exception("Exception in ASGI application")
            self._fail("the ASGI application raised an exception")
        else:
            if not self._complete and not self._disconnected:
                if self._started:
                    logger.error("ASGI callable returned without completing response.")
                else:
                    logger.error("ASGI callable returned without starting response.")
                self._fail("the ASGI application returned without completing the response")
        finally:
            if not self._complete:  # else _finish forgot it already
                self._conn.end_stream(self._id, self)
            tasks.discard(self._task)

    async def receive(self) -> Dict[str, Any]:
        while True:
            if self._disconnected or self._complete:
                return dict(_DISCONNECT)
            if not self._body_taken and (self._chunks or self._body_end):
                body = self._take() if self._chunks else b""
                more_body = not self._body_end or bool(self._chunks)
                if not more_body:
                    self._body_taken = True
                return {"type": "http.request", "body": body, "more_body": more_body}
            await self._wait()

    async def send(self, message: Dict[str, Any]) -> None:
        if self._disconnected:
            return  # spec 2.3: sending after the client left is a no-op
        try:
            mtype = message["type"]
        except (KeyError, TypeError):
            raise _unsupported(f"not a message: {message!r:.200}") from None
        # The errors are Granian's own (apps and their tests match on them).
        if mtype == "http.response.body":
            if not self._started:
                raise RuntimeError("ASGI flow error: Response not started")
            if self._complete:
                raise RuntimeError("ASGI flow error: Response already finished")
            body = message.get("body", b"")
            if type(body) is not bytes:
                if not isinstance(body, (bytearray, memoryview)):
                    raise _unsupported(f"http.response.body 'body' must be bytes, got {type(body).__name__}")
                # Frames leave on the next tick; a bytearray the app reuses must be copied now.
                body = bytes(body)
            last = not message.get("more_body", False)
            if not self._put_now(body, last):
                await self._send_data(body, last)
        elif mtype == "http.response.start":
            if self._started:
                raise RuntimeError("ASGI flow error: Response already started")
            self._start(message)
        elif mtype == "http.response.pathsend":
            if not self._started:
                raise RuntimeError("ASGI flow error: Response not started")
            if self._complete:
                raise RuntimeError("ASGI flow error: Response already finished")
            await self._send_path(message.get("path"))
        else:
            raise _unsupported(f"type {mtype!r}")

    def _start(self, message: Dict[str, Any]) -> None:
        status = message.get("status")
        # Bun builds a Fetch `Response`, whose constructor only takes 200..599
        # (https://fetch.spec.whatwg.org/#dom-response); refuse the rest here, where the app
        # gets a clear error and the client a 500. (A bool is an int to Python, not to us.)
        if type(status) is not int or not 200 <= status <= 599:
            raise _unsupported(f"http.response.start status must be an int in 200..599, got {status!r}")
        try:
            # Held back and sent with the first body chunk: one RESPONSE frame for the common
            # single-chunk response, and a 500 is still possible if the app fails before that.
            self._head = encode_response_head_prefix(status, message.get("headers", ()))
        except (TypeError, ValueError) as exc:
            raise _unsupported(f"http.response.start {exc}") from None
        self._started = True
        # An app that awaits something between start and body (server-sent events, long
        # polling) must not keep the client waiting for the headers: they leave with this
        # tick's flush. An app that sends the body in the same step got there first.
        self._conn.before_flush(self._release_head)

    async def _send_path(self, path: Any) -> None:
        """The pathsend extension: the whole body is the file at `path`, sent by Bun."""
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise _unsupported(f"http.response.pathsend 'path' must be str, got {type(path).__name__}")
        if "\0" in path:
            raise _unsupported(f"http.response.pathsend 'path' contains a NUL byte: {path!r}")
        if not os.path.isabs(path):
            # The spec asks for an absolute path; Granian takes a relative one against the
            # working directory, and so do we (Bun's working directory is another one).
            path = os.path.join(os.getcwd(), path)
        head = self._head
        if head is not None and not self._draining:
            self._head = None
            self._conn.write_frame(RESPONSE_FILE, FLAG_END, self._id, head, encode_file_target(path))
            self._finish()
            return
        # The head already left (the app awaited something after http.response.start): the
        # file can only follow as ordinary body chunks.
        loop = self._conn.loop
        with open(path, "rb") as file:
            while True:
                chunk = await loop.run_in_executor(None, file.read, MAX_CHUNK)
                if self._disconnected:
                    return
                last = len(chunk) < MAX_CHUNK
                await self._send_chunk(chunk, last)
                if last:
                    return

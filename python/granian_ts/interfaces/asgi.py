"""ASGI 3.0 over the frame protocol: HTTP spec 2.3 (https://asgi.readthedocs.io/en/latest/specs/www.html).

`ASGIInterface` turns a REQUEST frame into a scope and an `HTTPStream` (uvicorn calls it the
request/response cycle) whose `receive`/`send` the app drives as an ordinary asyncio task,
so contextvars, sniffio and cancellation behave as under any asyncio server.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set
from urllib.parse import unquote_to_bytes

from ..lifespan import LifespanOff, LifespanOn
from ..protocol import (
    FLAG_END,
    MAX_CHUNK,
    REQUEST_ACK,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_BODY,
    RESPONSE_FILE,
    U32,
    WINDOW,
    decode_request_head,
    encode_file_target,
    encode_response_head_prefix,
)
from ._asgi_websocket import ASGIWebsocket, subprotocols_of
from .base import Interface, Stream

if TYPE_CHECKING:
    from ..config import Config
    from ..connection import Connection

logger = logging.getLogger(__name__)

_pack_u32 = U32.pack
_current_task = asyncio.current_task

_ERROR_BODY = b"Internal server error"
_ERROR_HEAD = encode_response_head_prefix(
    500,
    [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(_ERROR_BODY))],
)
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
        self._server = (config.server_host, config.server_port)
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
        task = conn.loop.create_task(stream.run(self.app, scope, tasks))
        # Dropped by run() itself when it ends: cheaper than a done-callback per request.
        tasks.add(task)
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
        task = conn.loop.create_task(stream.run(self.app, scope, self._tasks))
        self._tasks.add(task)
        return stream


class ASGINoLifespanInterface(ASGIInterface):
    lifespan_class = LifespanOff


class HTTPStream(Stream):
    """One HTTP exchange: request body in through `receive`, response out through `send`."""

    __slots__ = (
        "_conn", "_id", "_chunks", "_body_end", "_body_taken", "_disconnected",
        "_started", "_head", "_complete", "_unacked", "_draining", "_event",
    )

    def __init__(self, conn: "Connection", stream_id: int, body_end: bool) -> None:
        self._conn = conn
        self._id = stream_id
        self._chunks: List[bytes] = []  # request body that arrived but the app has not taken
        self._body_end = body_end  # the last request body chunk arrived
        self._body_taken = False  # the app received more_body=False
        self._disconnected = False
        self._started = False  # the app sent http.response.start
        self._head: Optional[bytes] = None  # response head held until the first body chunk
        self._complete = False  # the final response frame is queued
        self._unacked = 0  # response body bytes Bun has not acknowledged
        self._draining = False  # a send waits for the socket, and will carry the held head
        self._event: Optional[asyncio.Event] = None  # created only when someone has to wait

    # Frames from the connection

    def on_body(self, chunk: bytes, end: bool) -> None:
        if chunk:
            self._chunks.append(chunk)
        if end:
            self._body_end = True
        self._wake()

    def on_ack(self, size: int) -> None:
        self._unacked -= size
        self._wake()

    def on_disconnect(self) -> None:
        self._disconnected = True
        self._wake()

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()

    async def _wait(self) -> None:
        """Wait for the next state change; callers re-check their condition in a loop."""
        event = self._event
        if event is None:
            event = self._event = asyncio.Event()
        event.clear()
        await event.wait()

    # The app side

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
            self._conn.end_stream(self._id, self)
            tasks.discard(_current_task())  # type: ignore[arg-type]

    def _fail(self, reason: str) -> None:
        """End a response the app could not finish: 500 while nothing is on the wire, else abort."""
        if self._complete or self._disconnected:
            return
        if self._head is not None or not self._started:
            # The head was held back, so the client can still get a proper error response.
            self._conn.write_frame(RESPONSE, FLAG_END, self._id, _ERROR_HEAD, _ERROR_BODY)
        else:
            self._conn.write_frame(RESPONSE_ABORT, 0, self._id, reason.encode("utf-8"))
        self._finish()

    def _finish(self) -> None:
        self._complete = True
        self._head = None
        self._conn.end_stream(self._id, self)
        self._wake()  # a pending receive() now returns http.disconnect

    async def receive(self) -> Dict[str, Any]:
        while True:
            if self._disconnected or self._complete:
                return dict(_DISCONNECT)
            if not self._body_taken and (self._chunks or self._body_end):
                return self._take_body()
            await self._wait()

    def _take_body(self) -> Dict[str, Any]:
        chunks = self._chunks
        if not chunks:
            body = b""
        else:
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._chunks = []
            # Bun reads more of the client's body only as the app takes it (request window).
            self._conn.write_frame(REQUEST_ACK, 0, self._id, _pack_u32(len(body)))
        more_body = not self._body_end
        if not more_body:
            self._body_taken = True
        return {"type": "http.request", "body": body, "more_body": more_body}

    async def send(self, message: Dict[str, Any]) -> None:
        if self._disconnected:
            return  # spec 2.3: sending after the client left is a no-op
        mtype = message["type"]
        if not self._started:
            if mtype != "http.response.start":
                raise RuntimeError(f"Unexpected ASGI message '{mtype}', expected 'http.response.start'.")
            self._start(message)
        elif self._complete:
            raise RuntimeError(f"Unexpected ASGI message '{mtype}' sent, after response already completed.")
        elif mtype == "http.response.body":
            await self._send_body(message.get("body", b""), message.get("more_body", False))
        elif mtype == "http.response.pathsend":
            await self._send_path(message["path"])
        else:
            raise RuntimeError(f"Unexpected ASGI message '{mtype}', expected 'http.response.body'.")

    def _start(self, message: Dict[str, Any]) -> None:
        status = message["status"]
        # Bun builds a Fetch `Response`, whose constructor only takes 200..599
        # (https://fetch.spec.whatwg.org/#dom-response); refuse the rest here, where the app
        # gets a clear error and the client a 500.
        if type(status) is not int or not 200 <= status <= 599:
            raise RuntimeError(f"ASGI http.response.start status must be an int in 200..599, got {status!r}.")
        # Held back and sent with the first body chunk: one RESPONSE frame for the common
        # single-chunk response, and a 500 is still possible if the app fails before that.
        self._head = encode_response_head_prefix(status, message.get("headers", ()))
        self._started = True
        # An app that awaits something between start and body (server-sent events, long
        # polling) must not keep the client waiting for the headers: they leave with this
        # tick's flush. An app that sends the body in the same step got there first.
        self._conn.before_flush(self._release_head)

    def _release_head(self) -> None:
        head = self._head
        if head is not None and not self._disconnected and not self._draining:
            self._head = None
            self._conn.write_frame(RESPONSE, 0, self._id, head)

    async def _send_path(self, path: Any) -> None:
        """The pathsend extension: the whole body is the file at `path`, sent by Bun."""
        if not isinstance(path, str):
            raise TypeError(f"http.response.pathsend path must be str, got {type(path).__name__}")
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
                more = len(chunk) == MAX_CHUNK
                await self._send_chunk(chunk, more)
                if not more:
                    return

    async def _send_body(self, body: Any, more_body: bool) -> None:
        if type(body) is not bytes:
            # Frames leave on the next tick; a bytearray the app reuses must be copied now.
            body = bytes(body)
        size = len(body)
        if size <= MAX_CHUNK:
            await self._send_chunk(body, more_body)
            return
        view = memoryview(body)
        for offset in range(0, size, MAX_CHUNK):
            if self._disconnected:
                return
            await self._send_chunk(view[offset : offset + MAX_CHUNK], more_body or offset + MAX_CHUNK < size)

    async def _send_chunk(self, chunk: Any, more_body: bool) -> None:
        size = len(chunk)
        if not size and more_body and self._head is None:
            return  # an empty chunk that is not the last one carries nothing
        # Keep Bun's buffer for this stream within WINDOW (docs/protocol.md, flow control).
        while self._unacked and self._unacked + size > WINDOW and not self._disconnected:
            await self._wait()
        conn = self._conn
        if conn.write_paused:
            self._draining = True
            try:
                await conn.drain()
            finally:
                self._draining = False
        if self._disconnected:
            return
        flags = 0 if more_body else FLAG_END
        head = self._head
        if head is not None:
            self._head = None
            conn.write_frame(RESPONSE, flags, self._id, head, chunk)
        else:
            conn.write_frame(RESPONSE_BODY, flags, self._id, chunk)
        self._unacked += size
        if not more_body:
            self._finish()

"""RSGI 1.6 (HTTP) over the frame protocol: Granian's spec, docs/spec/RSGI.md in
https://github.com/emmett-framework/granian, with Granian's behaviour where the spec is silent.

`RSGIInterface` turns a REQUEST frame into a `Scope` and an `HTTPProtocol`, and runs
`app.__rsgi__(scope, protocol)` (or `app(scope, protocol)`) as an asyncio task.
`__rsgi_init__(loop)` runs at worker startup and `__rsgi_del__(loop)` at shutdown, in place
of a lifespan protocol. Where Granian and the spec leave a choice, Granian decides:

- the body can be read once, whole (`await protocol()`) or as chunks (`async for`); a second
  read raises `RSGIProtocolError`. A client gone before its body arrived whole:
  `await protocol()` raises `RSGIProtocolClosed`, iteration simply ends.
- the first response method called wins; later ones are ignored.
- `send_bytes`/`send_str` on a transport whose client went away (or after the app returned)
  raise `RSGIProtocolClosed`.
- `client_disconnect()` resolves when the client goes away before the response ended.
- response header text goes to the client as UTF-8.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import unquote

from ..protocol import (
    FLAG_END,
    MAX_CHUNK,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_FILE,
    decode_request_fields,
    encode_file_target,
    encode_response_head_text,
)
from ._http import HTTPExchange
from ._rsgi_websocket import WebsocketMessage, WebsocketMessageType, WebsocketProtocol, WebsocketTransport
from .base import Interface, Stream

if TYPE_CHECKING:
    from ..config import Config
    from ..connection import Connection

logger = logging.getLogger(__name__)

RSGI_VERSION = "1.6"

_MISSING = object()


class RSGIProtocolError(RuntimeError):
    """The app used the protocol out of order (e.g. read the request body twice)."""


class RSGIProtocolClosed(RuntimeError):
    """The client is gone, or the response is over: nothing more can be sent or read."""


def _address(host: str, port: Any) -> str:
    # "{address}:{port}" (spec), with IPv6 addresses in brackets as Granian prints them.
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Headers:
    """The request headers (spec: a mapping-like object), names lowercase.

    Lookups ignore case. `get`/`[]` give the first value of a name, `get_all` every value,
    `keys`/iteration/`len` the distinct names, `values`/`items` every entry. Bun merges repeated
    request headers into one `a, b` value, so `get_all` sees them as one.
    """

    __slots__ = ("_fields", "_first")

    def __init__(self, fields: List[str]) -> None:
        self._fields = fields  # name, value, name, value, ...
        self._first: Optional[Dict[str, str]] = None  # built on the first lookup only

    def _index(self) -> Dict[str, str]:
        fields = self._fields
        # Reversed pairs: for a repeated name the first value is the one that stays.
        first = self._first = dict(zip(fields[-2::-2], fields[::-2]))
        return first

    def get(self, key: str, default: Any = None) -> Any:
        first = self._first if self._first is not None else self._index()
        return first.get(key.lower(), default)

    def get_all(self, key: str) -> List[str]:
        key = key.lower()
        fields = self._fields
        return [fields[i + 1] for i in range(0, len(fields), 2) if fields[i] == key]

    def keys(self) -> List[str]:
        return list(dict.fromkeys(self._fields[::2]))

    def values(self) -> List[str]:
        return self._fields[1::2]

    def items(self) -> List[Tuple[str, str]]:
        fields = self._fields
        return list(zip(fields[::2], fields[1::2]))

    def __getitem__(self, key: str) -> str:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        first = self._first if self._first is not None else self._index()
        return len(first)

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


class Scope:
    """The HTTP connection scope (spec: HTTP connection scope)."""

    __slots__ = ("http_version", "server", "client", "scheme", "method", "path", "query_string", "headers")
    proto = "http"
    rsgi_version = RSGI_VERSION

    def __init__(
        self, http_version: str, server: str, client: str, scheme: str, method: str, path: str,
        query_string: str, headers: Headers,
    ) -> None:
        self.http_version = http_version
        self.server = server
        self.client = client
        self.scheme = scheme
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers

    @property
    def authority(self) -> Optional[str]:
        # The :authority pseudo-header, HTTP/2 only (spec 1.6); Bun hands it over as `host`.
        return self.headers.get("host") if self.http_version == "2" else None

    def __repr__(self) -> str:
        return f"<Scope {self.method} {self.path!r} http/{self.http_version}>"


class WebsocketScope(Scope):
    """The websocket connection scope (spec: Websocket connection scope)."""

    __slots__ = ()
    proto = "ws"


class RSGIInterface(Interface):
    def __init__(self, app: Any, config: "Config") -> None:
        super().__init__(app, config)
        self._callback = getattr(app, "__rsgi__", app)
        # As Granian: a Unix socket's server is its path.
        self._server = config.server_host if config.server_unix else _address(config.server_host, config.server_port)
        # The loop only holds weak references to tasks; these keep running requests alive.
        self._tasks: Set[asyncio.Task] = set()

    async def startup(self) -> None:
        # Granian calls it with the loop before serving; here the loop is already running, so
        # the hook schedules its work (loop.create_task) rather than run_until_complete.
        init = getattr(self.app, "__rsgi_init__", None)
        if init is not None:
            init(asyncio.get_running_loop())

    async def shutdown(self) -> None:
        fini = getattr(self.app, "__rsgi_del__", None)
        if fini is not None:
            try:
                fini(asyncio.get_running_loop())
            except Exception:
                logger.exception("Exception in RSGI __rsgi_del__")

    def open_stream(self, conn: "Connection", stream_id: int, head: bytes, end: bool) -> Stream:
        fields = decode_request_fields(head)
        method, scheme, http_version, host, port, raw_path, query = fields[:7]
        # As Granian does: the path percent-decoded, the query string as sent.
        path = raw_path if "%" not in raw_path else unquote(raw_path)
        scope = Scope(
            http_version, self._server, _address(host, port) if host else "", scheme, method, path, query,
            Headers(fields[7:]),
        )
        stream = HTTPProtocol(conn, stream_id, end)
        tasks = self._tasks
        stream._spawn(conn, stream_id, stream.run(self._callback, scope, tasks), tasks, self.step_tasks)
        return stream


    def open_websocket(self, conn: "Connection", stream_id: int, head: bytes) -> Stream:
        fields = decode_request_fields(head)
        method, scheme, http_version, host, port, raw_path, query = fields[:7]
        path = raw_path if "%" not in raw_path else unquote(raw_path)
        scope = WebsocketScope(
            http_version, self._server, _address(host, port) if host else "", scheme, method, path, query,
            Headers(fields[7:]),
        )
        stream = WebsocketProtocol(conn, stream_id)
        tasks = self._tasks
        stream._spawn(conn, stream_id, stream.run(self._callback, scope, tasks), tasks, self.step_tasks)
        return stream


class HTTPStreamTransport:
    """What `response_stream` returns: the body goes out through it (spec: transport object)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: "HTTPProtocol") -> None:
        self._protocol = protocol

    async def send_bytes(self, data: bytes) -> None:
        if type(data) is not bytes:
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f"send_bytes takes bytes, got {type(data).__name__}")
            # Frames leave on the next tick; a buffer the app reuses must be copied now.
            data = bytes(data)
        await self._protocol._send(data)

    async def send_str(self, data: str) -> None:
        if type(data) is not str:
            raise TypeError(f"send_str takes str, got {type(data).__name__}")
        await self._protocol._send(data.encode("utf-8"))


class HTTPProtocol(HTTPExchange):
    """One HTTP exchange as the app sees it (spec: HTTP protocol interface)."""

    __slots__ = ("_body_read", "_disconnect_waiters", "_streaming", "_app_done", "_tail")

    def __init__(self, conn: "Connection", stream_id: int, body_end: bool) -> None:
        HTTPExchange.__init__(self, conn, stream_id, body_end)
        # `_started` here means a response method was called: later ones are no-ops.
        self._body_read = False  # the app started reading the body (it can only once)
        self._disconnect_waiters: Optional[List[asyncio.Future]] = None
        self._streaming = False  # the response is a stream whose body the app sends
        self._app_done = False  # the app returned: its transport is closed
        self._tail: Optional[asyncio.Task] = None  # sends the rest of a response_bytes over 1 MiB

    def on_disconnect(self) -> None:
        HTTPExchange.on_disconnect(self)
        waiters, self._disconnect_waiters = self._disconnect_waiters, None
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # Running the app

    async def run(self, app: Any, scope: Scope, tasks: Set[asyncio.Task]) -> None:
        try:
            try:
                await app(scope, self)
            except asyncio.CancelledError:
                self._fail("the RSGI application was cancelled")
                raise
            except Exception:
                logger.exception("Exception in RSGI application")
                self._fail("the RSGI application raised an exception")
            else:
                if self._streaming:
                    self._end_stream()  # the transport closes when the app returns
                elif not self._started and not self._disconnected:
                    logger.error("RSGI callable returned without a response.")
                    self._fail("the RSGI application returned without a response")
            if self._tail is not None:
                await self._tail
        finally:
            self._app_done = True
            tail = self._tail
            if tail is not None and not self._complete:
                # Cancelled (the worker is exiting) while the rest of a large body was going out.
                tail.cancel()
                if not self._disconnected:
                    self._conn.write_frame(RESPONSE_ABORT, 0, self._id, b"the RSGI application was cancelled")
                    self._finish()
            self._conn.end_stream(self._id, self)
            tasks.discard(self._task)

    def _fail(self, reason: str) -> None:
        if self._started and not self._streaming:
            return  # the response (or its whole body, for a large response_bytes) is decided
        HTTPExchange._fail(self, reason)

    # Request body

    async def __call__(self) -> bytes:
        """The whole request body."""
        if self._body_read:
            raise RSGIProtocolError("RSGI protocol error: the request body was already read")
        self._body_read = True
        parts: List[bytes] = []
        while True:
            while self._chunks:
                parts.append(self._take())
            if self._body_end:
                break
            if self._disconnected or self._complete:
                raise RSGIProtocolClosed("RSGI transport is closed")
            # Taken chunks were acknowledged: Bun keeps reading while this waits for the rest.
            await self._wait()
        if not parts:
            return b""
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def __aiter__(self) -> "HTTPProtocol":
        """The request body as chunks (`async for chunk in protocol`)."""
        if self._body_read:
            raise RSGIProtocolError("RSGI protocol error: the request body was already read")
        self._body_read = True
        return self

    async def __anext__(self) -> bytes:
        while True:
            if self._chunks:
                return self._take()
            if self._body_end or self._disconnected or self._complete:
                raise StopAsyncIteration
            await self._wait()

    async def client_disconnect(self) -> None:
        """Resolves when the client goes away (before the response ended)."""
        if self._disconnected:
            return
        waiter = self._conn.loop.create_future()
        if self._disconnect_waiters is None:
            self._disconnect_waiters = [waiter]
        else:
            self._disconnect_waiters.append(waiter)
        await waiter

    # Responses

    def response_empty(self, status: int, headers: List[Tuple[str, str]]) -> None:
        self._respond(status, headers, b"")

    def response_str(self, status: int, headers: List[Tuple[str, str]], body: str) -> None:
        if type(body) is not str:
            raise TypeError(f"response_str body must be str, got {type(body).__name__}")
        self._respond(status, headers, body.encode("utf-8"))

    def response_bytes(self, status: int, headers: List[Tuple[str, str]], body: bytes) -> None:
        if type(body) is not bytes:
            if not isinstance(body, (bytearray, memoryview)):
                raise TypeError(f"response_bytes body must be bytes, got {type(body).__name__}")
            body = bytes(body)
        self._respond(status, headers, body)

    def response_file(self, status: int, headers: List[Tuple[str, str]], file: str) -> None:
        self._respond_file(status, headers, file, None, None)

    def response_file_range(
        self, status: int, headers: List[Tuple[str, str]], file: str, start: int, end: int
    ) -> None:
        """Bytes `start` (inclusive) to `end` (exclusive) of `file`; `end` past the file's end is
        clamped to it. Raises ValueError unless 0 <= start < end, as Granian does."""
        if type(start) is not int or type(end) is not int:
            raise TypeError("response_file_range start and end must be int")
        if start < 0 or end <= start:
            raise ValueError("Invalid range")
        self._respond_file(status, headers, file, start, end)

    def response_stream(self, status: int, headers: List[Tuple[str, str]]) -> HTTPStreamTransport:
        transport = HTTPStreamTransport(self)
        if self._started:
            return transport  # its sends raise RSGIProtocolClosed: the response is decided
        head = self._head_of(status, headers)
        self._started = True
        if self._disconnected:
            return transport
        self._streaming = True
        # Held back and sent with the first chunk: one frame for the common case, and a 500 is
        # still possible if the app fails before sending anything. An app that awaits
        # something first (server-sent events, long polling) still gets its headers out with
        # this tick's flush.
        self._head = head
        self._conn.before_flush(self._release_head)
        return transport

    @staticmethod
    def _head_of(status: int, headers: List[Tuple[str, str]]) -> bytes:
        # Bun builds a Fetch `Response`, whose constructor only takes 200..599
        # (https://fetch.spec.whatwg.org/#dom-response): refuse the rest here, where the app
        # gets a clear error and the client a 500.
        if type(status) is not int or not 200 <= status <= 599:
            raise ValueError(f"RSGI response status must be an int in 200..599, got {status!r}")
        return encode_response_head_text(status, headers)

    def _respond(self, status: int, headers: List[Tuple[str, str]], body: bytes) -> None:
        if self._started:
            return
        head = self._head_of(status, headers)
        self._started = True
        if self._disconnected:
            return
        if len(body) <= MAX_CHUNK:
            self._conn.write_frame(RESPONSE, FLAG_END, self._id, head, body)
            self._finish()
            return
        # A body over one frame: the first chunk goes now, the rest as Bun acknowledges it.
        view = memoryview(body)
        self._conn.write_frame(RESPONSE, 0, self._id, head, view[:MAX_CHUNK])
        self._unacked = MAX_CHUNK
        self._tail = self._conn.loop.create_task(self._send_data(view[MAX_CHUNK:], True))

    def _respond_file(
        self, status: int, headers: List[Tuple[str, str]], file: Any, start: Optional[int], end: Optional[int]
    ) -> None:
        if self._started:
            return
        head = self._head_of(status, headers)
        path = os.fspath(file)
        if not isinstance(path, str):
            raise TypeError(f"file path must be str, got {type(path).__name__}")
        if not os.path.isabs(path):
            # Relative to the app's working directory, as under Granian: Bun's is another one.
            path = os.path.join(os.getcwd(), path)
        target = encode_file_target(path, start, end)
        self._started = True
        if self._disconnected:
            return
        self._conn.write_frame(RESPONSE_FILE, FLAG_END, self._id, head, target)
        self._finish()

    # Streamed response body

    async def _send(self, data: bytes) -> None:
        if not self._streaming or self._complete or self._disconnected or self._app_done:
            raise RSGIProtocolClosed("RSGI transport is closed")
        if not self._put_now(data, False) and not await self._send_data(data, False):
            raise RSGIProtocolClosed("RSGI transport is closed")

    def _end_stream(self) -> None:
        if self._complete or self._disconnected:
            return
        self._put_chunk(b"", True)

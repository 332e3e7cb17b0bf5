"""What ASGI and RSGI share in one HTTP exchange: the request body queue, the response window,
the held response head and the 500 an app failure turns into. Each interface subclasses
`HTTPExchange` and adds only how its app reads the body and starts the response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

from ..protocol import (
    FLAG_END,
    MAX_CHUNK,
    REQUEST_ACK,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_BODY,
    U32,
    WINDOW,
    encode_response_head_prefix,
)
from .base import AsyncStream

if TYPE_CHECKING:
    from ..connection import Connection

_pack_u32 = U32.pack

# The response to a request whose app failed before anything reached the wire (every interface).
ERROR_BODY = b"Internal server error"
ERROR_HEAD = encode_response_head_prefix(
    500,
    [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(ERROR_BODY))],
)


class HTTPExchange(AsyncStream):
    """One HTTP exchange on the wire: the connection's frames in, response frames out."""

    __slots__ = (
        "_conn", "_id", "_chunks", "_body_end", "_disconnected", "_started", "_head", "_complete",
        "_unacked", "_draining",
    )

    def __init__(self, conn: "Connection", stream_id: int, body_end: bool) -> None:
        self._conn = conn
        self._id = stream_id
        self._event = None  # AsyncStream's wake-up, created only when someone has to wait
        self._chunks: List[bytes] = []  # request body that arrived but the app has not taken
        self._body_end = body_end  # the last request body chunk arrived
        self._disconnected = False
        self._started = False  # the app started a response: its status and headers are decided
        self._head: Optional[bytes] = None  # response head held until the first body chunk
        self._complete = False  # the final response frame is queued
        self._unacked = 0  # response body bytes Bun has not acknowledged
        self._draining = False  # a send waits for the socket, and will carry the held head

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

    # Request body

    def _take(self) -> bytes:
        """The request body that arrived so far, as one piece of at most MAX_CHUNK (more stays
        queued); call only when `_chunks` holds some."""
        chunks = self._chunks
        if len(chunks) == 1:
            body = chunks[0]
            self._chunks = []
        else:
            # Bun's window lets a little over WINDOW arrive; an app gets pieces of MAX_CHUNK at most.
            size, n = len(chunks[0]), 1
            while n < len(chunks) and size + len(chunks[n]) <= MAX_CHUNK:
                size += len(chunks[n])
                n += 1
            body = b"".join(chunks[:n])
            self._chunks = chunks[n:]
        # Bun reads more of the client's body only as the app takes it (request window); once
        # the last chunk came there is nothing more to read, and no ack for Bun to decode.
        if not self._body_end:
            self._conn.write_frame(REQUEST_ACK, 0, self._id, _pack_u32(len(body)))
        return body

    # Ending the response

    def _fail(self, reason: str) -> None:
        """End a response the app could not finish: 500 while nothing is on the wire, else abort."""
        if self._complete or self._disconnected:
            return
        if self._head is not None or not self._started:
            # The head was held back, so the client can still get a proper error response.
            self._conn.write_frame(RESPONSE, FLAG_END, self._id, ERROR_HEAD, ERROR_BODY)
        else:
            self._conn.write_frame(RESPONSE_ABORT, 0, self._id, reason.encode("utf-8"))
        self._finish()

    def _finish(self) -> None:
        self._complete = True
        self._head = None
        self._conn.end_stream(self._id, self)
        self._wake()  # a pending body read or send now sees the end

    # Response body

    def _release_head(self) -> None:
        """Registered with `conn.before_flush`: a head still held when the tick ends goes alone,
        so an app that awaits something before its first chunk does not hold back the headers."""
        head = self._head
        if head is not None and not self._disconnected and not self._draining:
            self._head = None
            self._conn.write_frame(RESPONSE, 0, self._id, head)

    async def _send_data(self, data: Any, last: bool) -> bool:
        """Send `data` as frames of at most MAX_CHUNK; False if the client went away meanwhile."""
        size = len(data)
        if size <= MAX_CHUNK:
            return await self._send_chunk(data, last)
        view = memoryview(data)
        for offset in range(0, size, MAX_CHUNK):
            if self._disconnected:
                return False
            if not await self._send_chunk(view[offset : offset + MAX_CHUNK], last and offset + MAX_CHUNK >= size):
                return False
        return True

    async def _send_chunk(self, chunk: Any, last: bool) -> bool:
        """Send one chunk within the window; False if the client went away meanwhile."""
        size = len(chunk)
        if not size and not last and self._head is None:
            return not self._disconnected  # an empty chunk that is not the last carries nothing
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
        if self._disconnected or self._complete:
            return False
        self._put_chunk(chunk, last)
        return True

    def _put_now(self, data: Any, last: bool) -> bool:
        """`_send_data` without its two coroutines, when the window and the socket take `data`
        now (nearly every chunk); False when they do not, and the caller awaits `_send_data`.
        The caller checked that the response is neither complete nor disconnected."""
        size = len(data)
        if size > MAX_CHUNK or self._unacked + size > WINDOW or self._conn.write_paused:
            return False
        if size or last or self._head is not None:  # as in _send_chunk: else it carries nothing
            self._put_chunk(data, last)
        return True

    def _put_chunk(self, chunk: Any, last: bool) -> None:
        """Queue one chunk (the held head with it) now; the caller checked window and socket."""
        flags = FLAG_END if last else 0
        head = self._head
        if head is not None:
            self._head = None
            self._conn.write_frame(RESPONSE, flags, self._id, head, chunk)
        else:
            self._conn.write_frame(RESPONSE_BODY, flags, self._id, chunk)
        self._unacked += len(chunk)
        if last:
            self._finish()

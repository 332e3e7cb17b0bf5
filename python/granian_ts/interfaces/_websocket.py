"""The frames of one websocket stream (docs/protocol.md, "Websockets"), shared by the ASGI
and RSGI faces (`_asgi_websocket.py`, `_rsgi_websocket.py`).

Flow control both ways: a client message is acknowledged (WS_MESSAGE_ACK) only when the app
takes it, so Bun stops reading from a client the app does not keep up with; `send` waits while
WINDOW bytes of the app's messages wait for Bun's WS_ACK (the client's socket took them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from ..protocol import (
    FLAG_BINARY,
    FLAG_END,
    MAX_CHUNK,
    RESPONSE,
    U32,
    WINDOW,
    WS_ACCEPT,
    WS_END,
    WS_MESSAGE_ACK,
    WS_SEND,
    encode_close,
    encode_response_head_prefix,
)
from .base import AsyncStream

if TYPE_CHECKING:
    from ..connection import Connection

_pack_u32 = U32.pack

# What the app sees when the client vanished without a close frame (RFC 6455 §7.1.5).
ABNORMAL_CLOSURE = 1006

Message = Tuple[bytes, bool]  # data, binary


class WebsocketChannel(AsyncStream):
    __slots__ = (
        "conn", "_id", "_messages", "_parts", "_unacked",
        "accepted", "finished", "gone", "close_code", "close_reason",
    )

    def __init__(self, conn: "Connection", stream_id: int) -> None:
        self.conn = conn
        self._id = stream_id
        self._event = None  # AsyncStream's wake-up, created only when someone has to wait
        self._messages: List[Message] = []  # client messages the app has not taken
        self._parts: List[bytes] = []  # fragments of the client message being gathered
        self._unacked = 0  # bytes of our WS_SEND that Bun has not acknowledged
        self.accepted = False
        self.finished = False  # we sent the last frame of the stream (WS_END or a denial)
        self.gone = False  # the client closed or went away
        self.close_code = ABNORMAL_CLOSURE
        self.close_reason = ""

    # Frames from the connection

    def on_body(self, chunk: bytes, end: bool) -> None:
        pass  # an upgrade request has no body

    def on_message(self, payload: bytes, flags: int) -> None:
        if not flags & FLAG_END:
            self._parts.append(payload)
            return
        if self._parts:
            self._parts.append(payload)
            payload = b"".join(self._parts)
            self._parts = []
        self._messages.append((payload, bool(flags & FLAG_BINARY)))
        self._wake()

    def on_ack(self, size: int) -> None:
        self._unacked -= size
        self._wake()

    def on_close(self, code: int, reason: str) -> None:
        self.close_code = code
        self.close_reason = reason
        self.on_disconnect()

    def on_disconnect(self) -> None:
        self.gone = True
        self._wake()

    # The app side

    async def wait_gone(self) -> None:
        while not self.gone and not self.finished:
            await self._wait()

    async def next_message(self) -> Optional[Message]:
        """The next client message, or None once the websocket is closed."""
        while True:
            if self._messages:
                message = self._messages.pop(0)
                if not self.gone:
                    self.conn.write_frame(WS_MESSAGE_ACK, 0, self._id, _pack_u32(len(message[0])))
                return message
            if self.gone or self.finished:
                return None
            await self._wait()

    def accept(self, headers: Sequence[Tuple[bytes, bytes]]) -> None:
        """Headers as bytes pairs; the chosen subprotocol is a sec-websocket-protocol header."""
        self.conn.write_frame(WS_ACCEPT, 0, self._id, encode_response_head_prefix(101, headers))
        self.accepted = True
        self._wake()  # a receive() that waited for the accept now takes messages

    def deny(self, head: bytes, body: bytes = b"") -> None:
        """Refuse the upgrade with an HTTP response (`head` from encode_response_head_prefix)."""
        self.conn.write_frame(RESPONSE, FLAG_END, self._id, head, body)
        self._finish()

    async def send_data(self, data: bytes, binary: bool) -> bool:
        """Send one message; False if the websocket is closed."""
        size = len(data)
        while self._unacked and self._unacked + size > WINDOW and not self.gone and not self.finished:
            await self._wait()
        conn = self.conn
        if conn.write_paused:
            await conn.drain()
        if self.gone or self.finished:
            return False
        flags = FLAG_BINARY if binary else 0
        if size <= MAX_CHUNK:
            conn.write_frame(WS_SEND, flags | FLAG_END, self._id, data)
        else:
            view = memoryview(data)
            for offset in range(0, size, MAX_CHUNK):
                last = offset + MAX_CHUNK >= size
                conn.write_frame(WS_SEND, flags | (FLAG_END if last else 0), self._id, bytes(view[offset : offset + MAX_CHUNK]))
        self._unacked += size
        return True

    def close(self, code: int, reason: str = "") -> None:
        if self.finished:
            return
        if not self.gone:
            self.conn.write_frame(WS_END, 0, self._id, encode_close(code, reason))
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        self.conn.end_stream(self._id, self)
        self._wake()

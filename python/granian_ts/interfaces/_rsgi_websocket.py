"""RSGI websockets (Granian's spec, docs/spec/RSGI.md: "Websocket protocol interface") over a
`WebsocketChannel`. Where the spec is silent, as Granian:

- `close(status)` before `accept()` refuses the upgrade with HTTP `status` (403 if None);
  after it, it closes the websocket normally (1000). It returns `(status, accepted)`.
- `receive()` returns a `closed` message once the client closed or went away, every time.
- `send_bytes`/`send_str` on a closed websocket raise `RSGIProtocolClosed`.
- an app that returns without `close()` gets it called for it (500 if it never accepted).
"""

from __future__ import annotations

import asyncio
import logging
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Optional, Set, Tuple, Union

from ..protocol import encode_response_head_text
from ._websocket import WebsocketChannel

if TYPE_CHECKING:
    from ..connection import Connection

logger = logging.getLogger(__name__)


class WebsocketMessageType(IntEnum):
    closed = 0
    close = 0  # the name granian.rsgi uses
    bytes = 1
    string = 2


class WebsocketMessage:
    __slots__ = ("kind", "data")

    def __init__(self, kind: WebsocketMessageType, data: Optional[Union[bytes, str]]) -> None:
        self.kind = kind
        self.data = data

    def __repr__(self) -> str:
        return f"WebsocketMessage({self.kind.name}, {self.data!r})"


_CLOSED = WebsocketMessage(WebsocketMessageType.closed, None)


class WebsocketTransport:
    """What `accept()` returns: messages both ways."""

    __slots__ = ("_channel",)

    def __init__(self, channel: "WebsocketProtocol") -> None:
        self._channel = channel

    async def receive(self) -> WebsocketMessage:
        message = await self._channel.next_message()
        if message is None:
            return _CLOSED
        data, binary = message
        if binary:
            return WebsocketMessage(WebsocketMessageType.bytes, data)
        return WebsocketMessage(WebsocketMessageType.string, data.decode("utf-8"))

    async def send_bytes(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_bytes takes bytes, got {type(data).__name__}")  # as Granian
        await self._send(bytes(data), True)

    async def send_str(self, data: str) -> None:
        if type(data) is not str:
            raise TypeError(f"send_str takes str, got {type(data).__name__}")
        await self._send(data.encode("utf-8"), False)

    async def _send(self, data: bytes, binary: bool) -> None:
        from .rsgi import RSGIProtocolClosed

        if not await self._channel.send_data(data, binary):
            raise RSGIProtocolClosed("RSGI protocol closed: the websocket is closed")


class WebsocketProtocol(WebsocketChannel):
    """One websocket as an RSGI app sees it."""

    __slots__ = ("_transport",)

    def __init__(self, conn: "Connection", stream_id: int) -> None:
        super().__init__(conn, stream_id)
        self._transport: Optional[WebsocketTransport] = None

    async def accept(self) -> WebsocketTransport:
        from .rsgi import RSGIProtocolClosed, RSGIProtocolError

        if self._transport is not None:
            return self._transport
        if self.finished:
            raise RSGIProtocolError("RSGI protocol error: the websocket was already closed")
        if self.gone:
            raise RSGIProtocolClosed("RSGI protocol closed: the client went away")
        super().accept(())
        self._transport = WebsocketTransport(self)
        return self._transport

    def close(self, status: Optional[int] = None) -> Tuple[int, bool]:  # type: ignore[override]
        accepted = self.accepted
        if not self.finished:
            if accepted:
                super().close(1000)
            elif not self.gone:
                # Granian: no status is 403, one it cannot send 500 (here: what a Fetch
                # Response cannot carry, 200..599 only).
                if status is None:
                    code = 403
                elif type(status) is int and 200 <= status <= 599:
                    code = status
                else:
                    code = 500
                self.deny(encode_response_head_text(code, [("content-length", "0")]))
            else:
                self._finish()
        return (status if status is not None else (1000 if accepted else 403)), accepted

    async def run(self, app: Any, scope: Any, tasks: Set[asyncio.Task]) -> None:
        try:
            await app(scope, self)
        except asyncio.CancelledError:
            self._fail()
            raise
        except Exception:
            logger.exception("Exception in RSGI application")
            self._fail()
        else:
            if not self.finished:
                # Not accepted: refused with 403, as Granian does.
                self.close()
        finally:
            self.conn.end_stream(self._id, self)
            tasks.discard(self._task)

    def _fail(self) -> None:
        if self.finished:
            return
        if self.accepted:
            WebsocketChannel.close(self, 1011)
        else:
            self.close()  # 403, as Granian answers an app that raised before accepting

"""One Unix-socket connection from Bun: decode frames, route them, batch the replies.

Bun's listener threads each hold one connection carrying many streams; the supervisor holds
the control connection (HELLO/STOP). Replies are queued and flushed once per loop tick, so a
burst of responses costs one `transport.write` (one syscall) instead of one per frame.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from .protocol import (
    DISCONNECT,
    FLAG_END,
    HELLO,
    REQUEST,
    REQUEST_BODY,
    RESPONSE_ACK,
    STOP,
    U32,
    WS_ACK,
    WS_CLOSE,
    WS_MESSAGE,
    WS_OPEN,
    FrameDecoder,
    ProtocolError,
    decode_close,
    frame_header,
)

if TYPE_CHECKING:
    from .interfaces.base import Interface, Stream

logger = logging.getLogger(__name__)

_unpack_u32 = U32.unpack


class ConnectionHost:
    """What a connection needs from the worker that accepted it."""

    interface: Optional["Interface"]

    def on_hello(self, conn: "Connection") -> None:
        raise NotImplementedError

    def on_stop(self, conn: "Connection") -> None:
        raise NotImplementedError


class Connection(asyncio.Protocol):
    def __init__(self, host: ConnectionHost) -> None:
        self.loop = asyncio.get_running_loop()
        self.streams: Dict[int, "Stream"] = {}
        self._host = host
        self._decoder = FrameDecoder()
        self._transport: Optional[asyncio.Transport] = None
        self._out: List[Any] = []
        self._before_flush: List[Callable[[], None]] = []
        self._flush_scheduled = False
        self._write_paused = False
        self._drain_waiters: List[asyncio.Future] = []

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._transport = None
        self._out.clear()
        self._before_flush.clear()
        streams = list(self.streams.values())
        self.streams.clear()
        for stream in streams:
            stream.on_disconnect()
        self._release_drain_waiters()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
            for ftype, flags, stream_id, payload in frames:
                # Ordered by frequency: body chunks and acks dominate long transfers.
                if ftype == REQUEST_BODY:
                    stream = self.streams.get(stream_id)
                    if stream is not None:
                        stream.on_body(payload, bool(flags & FLAG_END))
                elif ftype == RESPONSE_ACK:
                    stream = self.streams.get(stream_id)
                    if stream is not None:
                        stream.on_ack(_unpack_u32(payload)[0])
                elif ftype == REQUEST:
                    self._open_stream(stream_id, payload, bool(flags & FLAG_END))
                elif ftype == DISCONNECT:
                    stream = self.streams.pop(stream_id, None)
                    if stream is not None:
                        stream.on_disconnect()
                elif ftype == WS_MESSAGE:
                    stream = self.streams.get(stream_id)
                    if stream is not None:
                        stream.on_message(payload, flags)  # type: ignore[attr-defined]
                elif ftype == WS_ACK:
                    stream = self.streams.get(stream_id)
                    if stream is not None:
                        stream.on_ack(_unpack_u32(payload)[0])
                elif ftype == WS_OPEN:
                    self._open_stream(stream_id, payload, True, websocket=True)
                elif ftype == WS_CLOSE:
                    stream = self.streams.pop(stream_id, None)
                    if stream is not None:
                        stream.on_close(*decode_close(payload))  # type: ignore[attr-defined]
                elif ftype == HELLO:
                    self._host.on_hello(self)
                elif ftype == STOP:
                    self._host.on_stop(self)
                else:
                    raise ProtocolError(f"frame type 0x{ftype:02x} is not sent by Bun")
        except ProtocolError as exc:
            logger.error("closing the connection to Bun: protocol error: %s", exc)
            self.close()
        except Exception:
            logger.exception("closing the connection to Bun: malformed frame")
            self.close()

    def _open_stream(self, stream_id: int, head: bytes, end: bool, websocket: bool = False) -> None:
        interface = self._host.interface
        if interface is None:
            raise ProtocolError("REQUEST before the worker was READY")
        previous = self.streams.get(stream_id)
        if previous is not None:
            # Bun reused an id we still track; the old exchange is over for Bun.
            previous.on_disconnect()
        # The interface registers the stream in self.streams: its app may run (and end) at once.
        if websocket:
            interface.open_websocket(self, stream_id, head)
        else:
            interface.open_stream(self, stream_id, head, end)

    # Flow control of the socket itself: asyncio calls these around its write buffer limits.

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._release_drain_waiters()

    def _release_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    @property
    def write_paused(self) -> bool:
        return self._write_paused

    async def drain(self) -> None:
        """Wait until the socket takes writes again (or is gone)."""
        if self._write_paused and self._transport is not None:
            waiter = self.loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    # Writing

    def write_frame(self, ftype: int, flags: int, stream_id: int, payload: Any = b"", extra: Any = b"") -> None:
        """Queue a frame; `extra` is appended to `payload` without copying either first."""
        if self._transport is None:
            return
        out = self._out
        out.append(frame_header(ftype, flags, stream_id, len(payload) + len(extra)))
        if payload:
            out.append(payload)
        if extra:
            out.append(extra)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def before_flush(self, callback: Callable[[], None]) -> None:
        """Run `callback` at the end of this loop tick, just before the queued frames leave."""
        self._before_flush.append(callback)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._before_flush:
            callbacks, self._before_flush = self._before_flush, []
            for callback in callbacks:
                callback()
        self._flush_scheduled = False
        out = self._out
        if out and self._transport is not None:
            self._out = []
            self._transport.write(b"".join(out))

    def end_stream(self, stream_id: int, stream: "Stream") -> None:
        """Forget a finished stream, unless Bun already reused its id for a new one."""
        if self.streams.get(stream_id) is stream:
            del self.streams[stream_id]

    async def flush_and_close(self, timeout: float = 2.0) -> None:
        """Send everything queued, wait (bounded) for the kernel to take it, then close."""
        self._flush()
        transport = self._transport
        if transport is None:
            return
        deadline = self.loop.time() + timeout
        while transport.get_write_buffer_size() and self.loop.time() < deadline and self._transport is not None:
            await asyncio.sleep(0.005)
        transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

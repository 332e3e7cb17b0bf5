"""One Unix-socket connection from Bun: decode frames, route them, batch the replies.

Bun's listener threads each hold one connection carrying many streams; the supervisor holds
the control connection (HELLO/STOP). Replies are queued and flushed once per loop tick, so a
burst of responses costs one `transport.write` (one syscall) instead of one per frame. A read
that opens more than OPEN_PER_TURN streams is dispatched over several turns, in order. An
interface that serves connections on threads of its own (WSGI) takes the socket at the first
request, and the loop is done with it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterator, List, Optional

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
    Frame,
    FrameDecoder,
    ProtocolError,
    decode_close,
    frame_header,
)

if TYPE_CHECKING:
    from .interfaces.base import Interface, Stream

logger = logging.getLogger(__name__)

_unpack_u32 = U32.unpack
# Streams opened per loop turn. A read from Bun can hold hundreds of requests (HTTP/2 with 100
# streams a connection); opening them all at once keeps every one's scope, task and coroutine
# alive together until the next turn runs them, and that many survivors make Python's young
# collections promote and rescan them, and full collections frequent. Opening a few dozen a
# turn, the rest queued in order, keeps what is alive small; the responses of the first ones
# also leave a turn sooner. bench/RESULTS.md (2026-12-06, night) has what it changed.
OPEN_PER_TURN = 32


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
        # Frames read but not yet dispatched: past OPEN_PER_TURN streams, they wait a turn.
        self._backlog: Deque[Frame] = deque()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._transport = None
        self._backlog.clear()
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
        except Exception as exc:
            self._broken(exc)
            return
        if self._backlog:
            # Frames of earlier reads still wait for their turn (`_defer`): these go after them.
            self._backlog.extend(frames)
        else:
            self._dispatch(iter(frames))

    def _defer(self, frames: Iterator[Frame]) -> bool:
        """Keep what is left of `frames` for the next loop turn (OPEN_PER_TURN); False if nothing is.

        The backlog is empty here (frames are dispatched only then); while it is not, a `_resume`
        is scheduled."""
        rest = deque(frames)
        if not rest:
            return False
        self._backlog = rest
        self.loop.call_soon(self._resume)
        return True

    def _resume(self) -> None:
        backlog, self._backlog = self._backlog, deque()
        if backlog and self._transport is not None:
            self._dispatch(iter(backlog))

    def _dispatch(self, frames: Iterator[Frame]) -> None:
        opened = 0
        try:
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
                    if self._open_stream(stream_id, payload, bool(flags & FLAG_END)):
                        self._hand_over((ftype, flags, stream_id, payload), frames)
                        return
                    opened += 1
                    if opened >= OPEN_PER_TURN and self._defer(frames):
                        return
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
                    if self._open_stream(stream_id, payload, True, websocket=True):
                        self._hand_over((ftype, flags, stream_id, payload), frames)
                        return
                    opened += 1
                    if opened >= OPEN_PER_TURN and self._defer(frames):
                        return
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
        except Exception as exc:
            self._broken(exc)

    def _broken(self, exc: Exception) -> None:
        """A frame from Bun could not be decoded or routed: log why and close the connection."""
        if isinstance(exc, ProtocolError):
            logger.error("closing the connection to Bun: protocol error: %s", exc)
        else:
            logger.error("closing the connection to Bun: malformed frame", exc_info=exc)
        self.close()

    def _open_stream(self, stream_id: int, head: bytes, end: bool, websocket: bool = False) -> bool:
        """Serve a new stream; True if the interface takes the whole connection instead (WSGI)."""
        interface = self._host.interface
        if interface is None:
            raise ProtocolError("REQUEST before the worker was READY")
        if interface.takes_connections:
            return True
        previous = self.streams.get(stream_id)
        if previous is not None:
            # Bun reused an id we still track; the old exchange is over for Bun.
            previous.on_disconnect()
        # The interface registers the stream in self.streams: its app may run (and end) at once.
        if websocket:
            interface.open_websocket(self, stream_id, head)
        else:
            interface.open_stream(self, stream_id, head, end)
        return False

    def _hand_over(self, first: Frame, rest: Iterator[Frame]) -> None:
        """Give the socket, the decoder and the frames read so far to the interface, and step out:
        this event loop reads and writes nothing more on this connection."""
        interface = self._host.interface
        transport = self._transport
        assert interface is not None and transport is not None
        # A descriptor of its own: the transport closes its one when it goes.
        sock = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        transport.pause_reading()
        decoder, self._decoder = self._decoder, FrameDecoder()
        self.close()
        interface.take_connection(sock, decoder, itertools.chain((first,), rest))

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
        self._backlog.clear()  # nothing more is dispatched from a connection being closed
        if self._transport is not None:
            self._transport.close()

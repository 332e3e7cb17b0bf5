"""A connection from Bun served by the WSGI app threads themselves: read, run, write.

Why: a WSGI app blocks, so it runs on threads. When the event loop read the frames and wrote
the responses, every batch of requests crossed from the loop to an app thread and back, each
crossing a wake-up and a hand-off of the GIL: about a third of the worker's CPU per request
(bench/RESULTS.md, 2026-12-07). Here the thread that reads a batch runs its requests itself,
one after another, and sends all their responses in one write before it reads again; the
event loop is not on the way.

A thread inside the app (a query, a sleep) must not hold the rest up. The interface's monitor
(`WSGIInterface._watch`, on the event loop) looks at every link each MONITOR_INTERVAL: one
that has requests waiting, no thread reading, or responses not sent, while its threads are in
the app and nothing moved since the last look, gets more threads from the pool. At most
`--blocking-threads` app calls run at once (`free_slots`); reading needs no slot, so a link is
read even when every slot is taken.

Locks: `lock`, the interface's one for all links, guards what the readers and runners change
(streams, pending, reading, running, the free slots); each link's `_wlock` guards its output
and the socket's writes. Neither is held while the other is taken.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, Iterable, List

from ..protocol import (
    DISCONNECT,
    FLAG_END,
    REQUEST,
    REQUEST_BODY,
    RESPONSE_ACK,
    U32,
    WS_CLOSE,
    WS_OPEN,
    Frame,
    FrameDecoder,
    ProtocolError,
    frame_header,
)

if TYPE_CHECKING:
    from .wsgi import WSGIInterface, WSGIStream

logger = logging.getLogger(__name__)

_unpack_u32 = U32.unpack

# What one recv asks for: a burst of requests from Bun, or a large body chunk, in one call.
READ_SIZE = 256 * 1024


class Link:
    __slots__ = (
        "sock", "lock", "streams", "pending", "reading", "running", "progress", "closed", "seen",
        "_interface", "_decoder", "_wlock", "_out",
    )

    def __init__(self, interface: "WSGIInterface", sock: socket.socket, decoder: FrameDecoder) -> None:
        sock.setblocking(True)
        self.sock = sock
        self.lock = interface.lock  # one for every link: it also guards the worker's free slots
        self.streams: Dict[int, "WSGIStream"] = {}
        self.pending: Deque["WSGIStream"] = deque()  # requests ready to run, in arrival order
        self.reading = False  # a thread is in recv (or dispatching what it read)
        self.running = 0  # threads of this link inside the app
        self.progress = 0  # counts app calls started and reads done: the monitor's clock
        self.closed = False
        self.seen = -1  # `progress` at the monitor's last look
        self._interface = interface
        self._decoder = decoder
        self._wlock = threading.Lock()
        self._out: List[Any] = []

    # Serving (on pool threads)

    def serve(self) -> None:
        """Run what is pending, else read; return when another thread reads and nothing waits."""
        lock = self.lock
        pending = self.pending
        streams = self.streams
        interface = self._interface
        done = None  # the stream this thread ran last
        while True:
            with lock:
                if done is not None:
                    interface.free_slots += 1
                    self.running -= 1
                    if streams.get(done._id) is done:  # unless Bun reused its id already
                        del streams[done._id]
                    done = None
                if self.closed:
                    return
                stream = None
                if pending and interface.free_slots:
                    stream = pending.popleft()
                    interface.free_slots -= 1
                    self.running += 1
                    self.progress += 1
                elif self.reading:
                    stream = False
                else:
                    self.reading = True
            if stream is None:
                self._read()
            elif stream is False:
                # Whoever reads will run what comes; this thread's replies must not wait for it.
                self.flush()
                return
            else:
                interface.watch()
                done = stream
                try:
                    stream.run()  # which handles the app's errors itself
                except BaseException:  # a last resort: the slot and the stream are given back above
                    logger.exception("uncaught exception serving a WSGI request")

    def read_for_app(self) -> bool:
        """A thread waiting in the app for frames (body, acks) reads them itself when nobody
        reads; False when another thread is reading, and the frames will come from it."""
        with self.lock:
            if self.reading or self.closed:
                return False
            self.reading = True
        self._read()
        if self.pending:
            self._interface.pool.submit(self.serve)  # this thread is busy in its app
        return True

    def _read(self) -> None:
        """Send what is queued, wait for Bun's next bytes, route their frames (`reading` is ours)."""
        self.flush()
        try:
            data = self.sock.recv(READ_SIZE)
        except OSError:
            data = b""
        frames: Iterable[Frame] = ()
        error = None
        if data:
            try:
                frames = self._decoder.feed(data)
            except Exception as exc:
                error = exc
        with self.lock:
            self.reading = False
            self.progress += 1
            if data and error is None:
                try:
                    self.dispatch(frames)
                except Exception as exc:
                    error = exc
        if not data:
            self.close()
        elif error is not None:
            if isinstance(error, ProtocolError):
                logger.error("closing the connection to Bun: protocol error: %s", error)
            else:
                logger.error("closing the connection to Bun: malformed frame", exc_info=error)
            self.close()
        if self.closed:
            # This thread was the one in recv: no other can be in a call on the descriptor.
            with self._wlock:
                self.sock.close()

    def dispatch(self, frames: Iterable[Frame]) -> None:
        """Route frames to their streams; new requests go to `pending`. Called holding `lock`."""
        streams = self.streams
        for ftype, flags, stream_id, payload in frames:
            if ftype == REQUEST_BODY:
                stream = streams.get(stream_id)
                if stream is not None:
                    stream.on_body(payload, bool(flags & FLAG_END))
            elif ftype == RESPONSE_ACK:
                stream = streams.get(stream_id)
                if stream is not None:
                    stream.on_ack(_unpack_u32(payload)[0])
            elif ftype == REQUEST or ftype == WS_OPEN:
                # WSGI has no websockets: an upgrade request is served as the plain request it is.
                previous = streams.get(stream_id)
                if previous is not None:
                    previous.on_disconnect()  # Bun reused an id we still track
                stream = self._interface.new_stream(self, stream_id, payload, ftype == WS_OPEN or bool(flags & FLAG_END))
                streams[stream_id] = stream
                if not stream.deferred:
                    self.pending.append(stream)
            elif ftype == DISCONNECT or ftype == WS_CLOSE:
                stream = streams.pop(stream_id, None)
                if stream is not None:
                    stream.on_disconnect()
            else:
                raise ProtocolError(f"frame type 0x{ftype:02x} has no place on a WSGI connection")

    # Writing (from any thread)

    def write_frame(self, ftype: int, flags: int, stream_id: int, payload: Any = b"", extra: Any = b"") -> None:
        """Queue a frame for the next `flush`; `extra` follows `payload` without a copy of either."""
        header = frame_header(ftype, flags, stream_id, len(payload) + len(extra))
        with self._wlock:
            out = self._out
            out.append(header)
            if payload:
                out.append(payload)
            if extra:
                out.append(extra)

    def flush(self) -> None:
        """Send everything queued, in one write."""
        if not self._out:
            return
        failed = False
        with self._wlock:
            out, self._out = self._out, []
            if out and not self.closed:
                try:
                    self.sock.sendall(b"".join(out))
                except OSError:
                    failed = True
        if failed:
            self.close()

    @property
    def has_output(self) -> bool:
        return bool(self._out)

    # The end

    def close(self) -> None:
        """Bun went away, or the worker is stopping: every stream learns it, the socket closes."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            streams = list(self.streams.values())
            self.streams.clear()
            self.pending.clear()
            in_recv = self.reading
        for stream in streams:
            stream.on_disconnect()
        self._interface.forget(self)
        try:
            # Wakes a thread blocked in recv or sendall (closing the descriptor would wake
            # neither, and could hand its number to another file under them).
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        with self._wlock:
            self._out = []
            if not in_recv:
                self.sock.close()  # else the thread in recv closes it when it returns

"""A connection from Bun served by the WSGI app threads themselves: read, run, write.

Why: a WSGI app blocks, so it runs on threads. When the event loop read the frames and wrote
the responses, every batch of requests crossed from the loop to an app thread and back, each
crossing a wake-up and a hand-off of the GIL: about a third of the worker's CPU per request
(bench/RESULTS.md, 2026-12-07). Here the thread that reads a batch runs its requests itself,
one after another, and sends all their responses in one write before it reads again; the
event loop is not on the way.

That suits requests that keep their thread busy. Requests that wait in the app (a query, an HTTP
call, a sleep: STRIKES in a row more than SLOW_WAIT off the thread's CPU, sampled per link) are
spread for a while (SPREAD_FOR) instead: the thread that takes one calls another thread for the
next one waiting (`_help`, one call on the way at a time, so a batch fans out thread by thread as
fast as threads wake), and each thread sends its reply as soon as it has it. Otherwise a batch of
20 requests that each wait 1 ms would run one after another, the last answered after 20 ms: 1.0k
req/s where Granian, which runs every request on a thread of its pool, does 6.0k (bench/RESULTS.md,
2026-12-08). Waiting, not length, decides: requests that only compute hold the GIL, and more
threads would only pass it around. A sample counts only while its thread is the link's only one in
the app: beside others, the time it waits for the GIL would read as waiting, and spreading would
keep itself going.

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
from time import perf_counter, thread_time
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
    speedups,
)

if TYPE_CHECKING:
    from .wsgi import WSGIInterface, WSGIStream

logger = logging.getLogger(__name__)

_unpack_u32 = U32.unpack

# What one recv asks for: a burst of requests from Bun, or a large body chunk, in one call.
READ_SIZE = 256 * 1024

# The C codec's send without the GIL hand-over (`flush`); without it, sendall (the reference).
_send_now = getattr(speedups, "send_now", None)

# Seconds a request spends in the app off its thread's CPU (waiting on I/O, a lock, a sleep) above
# which, STRIKES requests in a row, a link's requests are spread over threads as they come (module
# docstring). Below it, running a batch on one thread costs less than handing requests over: a
# hand-over is a thread wake-up, a GIL switch and a write of its own, some µs. One request that
# only computes can read as waiting too, when the OS or another thread wanting the GIL takes the
# CPU from it for a moment: four in a row do not, where requests that wait always do.
SLOW_WAIT = 0.00005
STRIKES = 4
# Seconds requests are spread for before they are timed again, alone on the link; and how long
# after that requests that still overlap (no thread alone to time one) are taken for waiting ones.
SPREAD_FOR = 10.0
RECHECK = 0.05
# One request in SAMPLE_EVERY is timed (the thread's CPU clock is a system call, 0.7 µs a read),
# the first of a link's included, and every one after a sample that waited.
SAMPLE_EVERY = 16


def _call_app(stream: "WSGIStream") -> None:
    try:
        stream.run()  # which handles the app's errors itself
    except BaseException:  # a last resort: the slot and the stream are given back by `serve`
        logger.exception("uncaught exception serving a WSGI request")


class Link:
    __slots__ = (
        "sock", "lock", "streams", "pending", "reading", "running", "progress", "closed", "seen",
        "spread_until", "recheck_until", "strikes", "count", "calling",
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
        self.spread_until = 0.0  # perf_counter() until which requests are spread (0: not spread)
        self.recheck_until = 0.0  # when requests that still overlap are taken for waiting ones (RECHECK)
        self.strikes = 0  # requests timed in a row that waited (SLOW_WAIT)
        self.count = -1  # requests run unspread, less one: which to time (SAMPLE_EVERY)
        self.calling = False  # a thread was asked to serve the next request waiting (`_help`)
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
            call = False
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
                    # Requests that wait: the next one waiting gets a thread of its own now.
                    # (spread_until first: unspread, one look at it is all a request pays)
                    if (
                        self.spread_until and pending and interface.free_slots and not self.calling
                        and perf_counter() < self.spread_until
                    ):
                        self.calling = call = True
                elif self.reading:
                    stream = False
                else:
                    self.reading = True
            if call:
                interface.pool.submit(self._help)
            if stream is None:
                self._read()
            elif stream is False:
                # Whoever reads will run what comes; this thread's replies must not wait for it.
                self.flush()
                return
            else:
                interface.watch()
                done = stream
                self._run(stream)

    def _run(self, stream: "WSGIStream") -> None:
        # Threads may race on what steers spreading (the count, strikes, the deadlines): a lost
        # update costs a sample at most.
        spread_until = self.spread_until
        if spread_until:
            _call_app(stream)
            self.flush()  # its client need not wait for the rest of the batch
            now = perf_counter()
            if now >= spread_until:
                self.spread_until = 0.0
                self.recheck_until = now + RECHECK
                self.count = -1  # time the next request
            return
        self.count = count = self.count + 1
        if count % SAMPLE_EVERY and not self.strikes:
            _call_app(stream)
            return
        alone = self.running == 1
        cpu = thread_time()
        started = perf_counter()
        _call_app(stream)
        now = perf_counter()
        waited = now - started - (thread_time() - cpu)
        if not (alone and self.running == 1):
            # Not a fair sample: time the next. Requests that still overlap RECHECK after a spell
            # of spreading ended are ones that wait (quick ones would have left one thread).
            if self.recheck_until and now > self.recheck_until:
                self._spread(now)
            else:
                self.count = -1
        elif waited <= SLOW_WAIT:
            self.strikes = 0
            self.recheck_until = 0.0
        elif self.strikes + 1 < STRIKES:
            self.strikes += 1
        else:
            self._spread(now)

    def _spread(self, now: float) -> None:
        self.strikes = 0
        self.recheck_until = 0.0
        self.spread_until = now + SPREAD_FOR
        self.flush()

    def _help(self) -> None:
        """A thread called to serve the next request waiting (requests that wait, `serve`)."""
        with self.lock:
            self.calling = False
        self.serve()

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
                data = b"".join(out)
                try:
                    if _send_now is not None:
                        # What the socket takes now, holding on to the GIL (spread requests:
                        # 10.3-11.0k req/s against 5.7-6.2k, 512 threads, bench/RESULTS.md 12-08).
                        sent = _send_now(self.sock.fileno(), data)
                        if sent < len(data):
                            self.sock.sendall(memoryview(data)[sent:])
                    else:
                        self.sock.sendall(data)
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

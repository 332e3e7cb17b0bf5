"""WSGI 1.0.1 (PEP 3333, https://peps.python.org/pep-3333/) over the frame protocol.

A WSGI app blocks, so it never runs on the event loop. Each connection from Bun is handed, at
its first request, to the app threads (`BlockingPool`, `--blocking-threads` app calls at once):
a `Link` (`_wsgi_link.py`) whose threads read the frames, run the requests and write the
responses themselves. A request meets its frames in `WSGIStream`:

- reader → app thread: REQUEST_BODY chunks, RESPONSE_ACKs and the client's disconnect go into a
  `SimpleQueue` that only the app thread reads, when it has to: `wsgi.input` blocks on it for
  more body, the response blocks on it while WINDOW bytes are unacknowledged (a thread waiting
  so reads the link itself when no other thread is reading).
- app thread → Bun: response frames and REQUEST_ACKs are queued on the link and sent together
  once the thread has nothing more to run, or at once for a piece of a response still going.

Both directions keep to the protocol's windows (docs/protocol.md, flow control), so neither a
200 MiB upload nor a 1 GiB generator is ever held in memory.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
from collections import deque
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterable, List, Optional, Set, Tuple
from urllib.parse import unquote_to_bytes

from ..protocol import (
    FLAG_END,
    MAX_CHUNK,
    REQUEST_ACK,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_BODY,
    U32,
    WINDOW,
    Frame,
    FrameDecoder,
    HeadCache,
    RequestHead,
    check_text_head,
    decode_request_head,
    speedups,
)
from ._http import ERROR_BODY, ERROR_HEAD
from ._wsgi_link import Link
from .base import Interface, Stream

if TYPE_CHECKING:
    from ..config import Config

logger = logging.getLogger(__name__)

_pack_u32 = U32.pack

# Events the loop puts on a stream's queue besides body chunks (bytes) and acks (int).
_END = object()  # the last request body chunk arrived
_GONE = object()  # the client went away, or the connection to Bun was lost

# A request body Bun reads whole and sends as one frame (SMALL_BODY in src/_bridge.ts): the app
# starts when it arrives, so its thread never blocks (two more thread switches) waiting for it.
SMALL_BODY = 64 * 1024

# How often the monitor looks for links whose threads are all stuck in the app (_wsgi_link.py).
MONITOR_INTERVAL = 0.002

# Files are read in blocks at least this big: every block is a frame, and Django asks for 4 KiB.
FILE_BLOCK = 128 * 1024


class ClientDisconnected(OSError):
    """The client went away: `wsgi.input` reads and `write()` raise it (PEP 3333 lets them fail)."""


# -------------------------------------------------------------------------------------------
# Threads


class BlockingPool:
    """Up to `size` threads, started as requests need them; one idle for `idle_timeout` exits.

    `_idle` counts waiting threads minus queued tasks (negative while tasks wait for a thread):
    a task that finds no waiting thread starts one, while there is room.
    """

    def __init__(self, size: int, idle_timeout: float, name: str = "granian-ts-wsgi") -> None:
        self.size = size
        self.idle_timeout = idle_timeout
        self._name = name
        self._tasks: "SimpleQueue[Optional[Callable[[], None]]]" = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._started = 0
        self._stopped = False

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, task: Callable[[], None]) -> None:
        self._tasks.put(task)
        with self._lock:
            self._idle -= 1
            if self._idle >= 0 or self._threads >= self.size:
                return
            self._threads += 1
            self._idle += 1  # the new thread, which takes this task
            self._started += 1
            number = self._started
        # Daemon: a request stuck in the app must not keep the worker from exiting.
        thread = threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # the system refuses more threads
            with self._lock:
                self._threads -= 1
                self._idle -= 1
            logger.error("could not start blocking thread %d (%s): the request waits for a busy one", number, exc)

    def _work(self) -> None:
        get = self._tasks.get
        lock = self._lock
        while True:
            try:
                task = get(timeout=self.idle_timeout)
            except Empty:
                with lock:
                    # Leave only if there are more waiting threads than queued tasks; otherwise
                    # a task was submitted counting on this thread.
                    if self._idle > 0:
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            if task is None:
                return
            try:
                task()
            except BaseException:  # tasks handle their own errors; this is a last resort
                logger.exception("uncaught exception in a blocking thread")
            with lock:
                self._idle += 1

    def resize(self, delta: int) -> None:
        """Allow `delta` more (or fewer) threads; a pool shut down stays at 0."""
        with self._lock:
            if self._stopped:
                return
            self.size += delta

    def shutdown(self) -> None:
        """Let the threads exit once the tasks queued so far are done (without waiting for them)."""
        with self._lock:
            self._stopped = True
            count, self.size = self._threads, 0
        for _ in range(count):
            self._tasks.put(None)


# -------------------------------------------------------------------------------------------
# Request and response helpers


# WSGI's heads as they go to Bun (latin-1 code points as UTF-8): not RSGI's encoding of text.
_HEADS = HeadCache()

# Statuses a Fetch Response takes (https://fetch.spec.whatwg.org/#dom-response): Bun builds one.
_STATUS_CODES = frozenset("%d" % code for code in range(200, 600))


def encode_wsgi_head(status: Any, headers: Any) -> bytes:
    """The RESPONSE head prefix for start_response's arguments; ValueError/TypeError says what is wrong."""
    if type(status) is not str:
        raise TypeError(f"WSGI status must be a str like '200 OK', got {status!r}")
    code = status[:3]
    if code not in _STATUS_CODES or (len(status) > 3 and status[3] != " "):
        if not (code.isascii() and code.isdigit() and (len(status) == 3 or status[3] == " ")):
            raise ValueError(f"invalid WSGI status line {status!r}: expected a str like '200 OK'")
        raise ValueError(f"WSGI status {code} is not supported: granian-ts sends statuses 200..599")
    if _cached_text_head is not None:
        # The C codec's look-up of what the one below finds, without building the fields.
        prefix = _cached_text_head(_HEADS, code, headers)
        if prefix is not None:
            return prefix
    fields = [code]
    append = fields.append
    try:
        for name, value in headers:
            append(name)
            append(value)
    except (TypeError, ValueError):
        raise TypeError(f"WSGI response headers must be a list of (name, value) tuples, got {headers!r}") from None
    try:
        head = "\0".join(fields)
    except TypeError:
        bad = next(f for f in fields if not isinstance(f, str))
        raise TypeError(f"WSGI response header names and values must be str, got {bad!r}") from None
    # A head seen before was checked then (its NUL count is checked again, as in protocol.py).
    if head.count("\0") == len(fields) - 1:
        prefix = _HEADS.get(head)
        if prefix is not None:
            return prefix
    # Names must be HTTP tokens, values free of NUL, CR and LF: Bun's Headers refuse the rest.
    check_text_head(head, fields, "WSGI response header")
    if head.isascii():
        data = head.encode("ascii")
    else:
        try:
            head.encode("latin-1")
        except UnicodeEncodeError:
            bad = next(f for f in fields if not f.isascii() and not _is_latin1(f))
            raise ValueError(f"WSGI response header {bad!r} is not latin-1 (PEP 3333: native strings)") from None
        data = head.encode("utf-8")  # latin-1 code points as UTF-8: the wire's text (protocol.md)
    return _HEADS.remember(head, _pack_u32(len(data)) + data)


def _is_latin1(text: str) -> bool:
    return all(ord(c) < 256 for c in text)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)  # a buffer the app reuses must be copied: the loop writes it later
    raise TypeError(f"WSGI response body items must be bytes, got {type(data).__name__}: {data!r:.60}")


_HEADER_KEYS: Dict[bytes, str] = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}
_HEADER_KEYS_MAX = 2048  # a client inventing header names must not grow the cache forever


def _header_key(name: bytes) -> Optional[str]:
    """The environ key of a (lowercase) header name: HTTP_X_FORWARDED_FOR for x-forwarded-for.

    None for a name with "_": it would land on the same key as its "-" twin, so a client could
    forge a header a proxy set (X_Forwarded_For over X-Forwarded-For). Dropped, as gunicorn,
    nginx and Django's runserver do.
    """
    if b"_" in name:
        return None
    key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
    if len(_HEADER_KEYS) < _HEADER_KEYS_MAX:
        _HEADER_KEYS[name] = key
    return key


def _apply_headers(environ: Dict[str, Any], headers: List[Tuple[bytes, bytes]]) -> None:
    """The request headers into `environ`. Names with "_" are dropped (`_header_key`). A repeated
    header is one key, its values joined as Granian joins them: "a,b", cookies "a=1;b=2". (Bun
    itself merges most repeated headers into one "a, b" before they get here: README, Bun limits.)
    """
    keys = _HEADER_KEYS
    for name, value in headers:
        key = keys.get(name) or _header_key(name)
        if key is not None:
            if key in environ:
                environ[key] += (";" if key == "HTTP_COOKIE" else ",") + value.decode("latin-1")
            else:
                environ[key] = value.decode("latin-1")


# With the C codec (protocol.speedups): its twins of `_apply_headers` and of the head cache's look-up.
apply_headers = _apply_headers
_cached_text_head = None
if speedups is not None:
    speedups.bind_wsgi(_HEADER_KEYS, _HEADER_KEYS_MAX, _header_key, _apply_headers)
    apply_headers = speedups.wsgi_apply_headers
    _cached_text_head = speedups.cached_text_head


class FileWrapper:
    """`wsgi.file_wrapper` (PEP 3333, "Optional Platform-Specific File Handling").

    For now the file is read in blocks on the app thread and sent like any other iterable;
    handing the file to Bun to send from disk is the file-response work of issue 5.
    """

    __slots__ = ("filelike", "blksize")

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = max(blksize, FILE_BLOCK)

    def __iter__(self) -> "FileWrapper":
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    # Werkzeug answers range requests by seeking the wrapper (werkzeug.wsgi.FileWrapper has these).

    def seekable(self) -> bool:
        seekable = getattr(self.filelike, "seekable", None)
        return bool(seekable and seekable())

    def seek(self, *args: Any) -> Any:
        return self.filelike.seek(*args)

    def tell(self) -> int:
        return self.filelike.tell()


class WSGIInput:
    """`wsgi.input`: the request body as it streams in; a read blocks until Bun sends more.

    At most one chunk (≤ MAX_CHUNK) is held here; the rest waits in Bun, paced by REQUEST_ACK.
    """

    __slots__ = ("_take", "_buf", "_pos")

    def __init__(self, stream: "WSGIStream") -> None:
        self._take = stream.take_chunk
        self._buf = b""
        self._pos = 0

    def read(self, size: Optional[int] = -1) -> bytes:
        buf, pos = self._buf, self._pos
        take = self._take
        if size is None or size < 0:
            parts = [buf[pos:]] if pos < len(buf) else []
            while True:
                chunk = take()
                if chunk is None:
                    break
                parts.append(chunk)
            self._buf, self._pos = b"", 0
            return parts[0] if len(parts) == 1 else b"".join(parts)
        end = pos + size
        if end <= len(buf):
            self._pos = end
            return buf if pos == 0 and end == len(buf) else buf[pos:end]
        parts = [buf[pos:]] if pos < len(buf) else []
        need = end - len(buf)
        self._buf, self._pos = b"", 0
        while need > 0:
            chunk = take()
            if chunk is None:
                break
            if len(chunk) <= need:
                parts.append(chunk)
                need -= len(chunk)
            else:
                parts.append(chunk[:need])
                self._buf, self._pos = chunk, need
                break
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readline(self, size: Optional[int] = -1) -> bytes:
        limit = sys.maxsize if size is None or size < 0 else size
        buf, pos = self._buf, self._pos
        parts = []
        while limit > 0:
            stop = pos + limit if pos + limit < len(buf) else len(buf)
            newline = buf.find(b"\n", pos, stop)
            if newline >= 0:
                parts.append(buf[pos : newline + 1])
                pos = newline + 1
                break
            if stop > pos:
                parts.append(buf[pos:stop])
                limit -= stop - pos
                pos = stop
            if limit == 0:
                break
            chunk = self._take()
            if chunk is None:
                break
            buf, pos = chunk, 0
        self._buf, self._pos = buf, pos
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readlines(self, hint: Optional[int] = -1) -> List[bytes]:
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> "WSGIInput":
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


# -------------------------------------------------------------------------------------------
# The interface


class WSGIInterface(Interface):
    # Bun's connections are served by the app threads (`_wsgi_link.Link`), not the event loop.
    takes_connections = True

    def __init__(self, app: Any, config: "Config") -> None:
        super().__init__(app, config)
        # Threads: each app call takes one of `free_slots`; each link's reader needs one beyond.
        self.pool = BlockingPool(config.blocking_threads, config.blocking_threads_idle_timeout)
        self.lock = threading.Lock()  # the links' (_wsgi_link.py)
        self.free_slots = config.blocking_threads
        self._links: Set[Link] = set()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._watching = False
        self._watch_handle: Optional[asyncio.TimerHandle] = None
        # SCRIPT_NAME is the mount point; "/" is the root, which PEP 3333 spells "".
        self._script_name = config.root_path.rstrip("/")
        # What every request's environ starts from: copying it beats building the whole dict.
        self._base_environ: Dict[str, Any] = {
            "SCRIPT_NAME": self._script_name,
            "SERVER_NAME": config.server_host,
            "SERVER_PORT": str(config.server_port),
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            # Other workers may serve the same app; the worker is not told how many there are.
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            # The body ends where the stream ends, also without content-length (chunked).
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }

    async def startup(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def shutdown(self) -> None:
        self.pool.shutdown()
        if self._watch_handle is not None:
            self._watch_handle.cancel()
            self._watch_handle = None
        for link in list(self._links):
            link.close()

    # Links (src: _wsgi_link.py)

    def take_connection(self, sock: socket.socket, decoder: FrameDecoder, frames: Iterable[Frame]) -> None:
        """Serve a connection from Bun on the app threads from now on; `frames` were read already."""
        link = Link(self, sock, decoder)
        self._links.add(link)
        self.pool.resize(1)  # the link's reader
        try:
            with link.lock:
                link.dispatch(frames)
        except Exception as exc:
            logger.error("closing the connection to Bun: %s", exc)
            link.close()
            return
        self.pool.submit(link.serve)

    def forget(self, link: Link) -> None:
        if link in self._links:
            self._links.discard(link)
            self.pool.resize(-1)

    def new_stream(self, link: Link, stream_id: int, head: bytes, end: bool) -> "WSGIStream":
        request = decode_request_head(head)
        stream = WSGIStream(self, link, stream_id, request, end)
        # A small body comes whole right after its head: the app starts when it is here, so its
        # thread never waits for it.
        if not end and _is_small_body(request[7]):
            stream.deferred = True
        return stream

    # The monitor: a link whose threads are all in the app gets more (module docstring of _wsgi_link).

    def watch(self) -> None:
        """Called by a thread about to run the app: make sure the monitor is looking."""
        if not self._watching:
            self._watching = True
            loop = self._loop
            if loop is not None:
                try:
                    loop.call_soon_threadsafe(self._start_watching)
                except RuntimeError:
                    pass  # the loop is closed: the worker is exiting

    def _start_watching(self) -> None:
        if self._watch_handle is None:
            self._watch_handle = self._loop.call_later(MONITOR_INTERVAL, self._watch)  # type: ignore[union-attr]

    def _watch(self) -> None:
        self._watch_handle = None
        busy = False
        for link in list(self._links):
            # A link with requests waiting and none running: another link's threads hold
            # every slot, and the slot freed next may be this link's.
            if not link.running and not link.pending:
                link.seen = -1
                continue
            busy = True
            progress = link.progress
            if progress == link.seen and (link.pending or not link.reading or link.has_output):
                # Stalled: one thread to read (and send what waits), one per request waiting.
                for _ in range(1 + min(len(link.pending), self.config.blocking_threads)):
                    self.pool.submit(link.serve)
            link.seen = progress
        if not busy:
            self._watching = False
            # A thread that started after its link was looked at may have seen _watching still
            # set, and not asked: look again before stopping.
            if not any(link.running or link.pending for link in list(self._links)):
                return
            self._watching = True
        self._watch_handle = self._loop.call_later(MONITOR_INTERVAL, self._watch)  # type: ignore[union-attr]

    def environ(self, stream: "WSGIStream", request: RequestHead) -> Dict[str, Any]:
        method, scheme, http_version, host, port, raw_path, query, headers = request
        # PEP 3333: PATH_INFO is the decoded path, its bytes as latin-1 code points.
        path = unquote_to_bytes(raw_path).decode("latin-1") if b"%" in raw_path else raw_path.decode("latin-1")
        script_name = self._script_name
        # Behind a proxy that keeps the prefix, strip it; one that removed it already left a
        # path for PATH_INFO as is. Either way SCRIPT_NAME + PATH_INFO is the client's path.
        if script_name and path.startswith(script_name) and path[len(script_name) : len(script_name) + 1] in ("", "/"):
            path = path[len(script_name) :]
        environ = self._base_environ.copy()
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = query.decode("latin-1")
        environ["SERVER_PROTOCOL"] = "HTTP/" + http_version
        environ["REMOTE_ADDR"] = host
        environ["REMOTE_PORT"] = str(port)
        environ["wsgi.url_scheme"] = scheme
        environ["wsgi.input"] = WSGIInput(stream)
        apply_headers(environ, headers)
        return environ


def _is_small_body(headers: List[Tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.isdigit() and int(value) <= SMALL_BODY
    return False


class WSGIStream(Stream):
    """One request, run by an app thread of its link; the link's reader feeds it frames.

    The reader (under `link.lock`) sets `gone`, `_body_end` and `deferred` and puts events on
    `_events`; everything else belongs to the thread running the app.
    """

    __slots__ = (
        # shared
        "_interface", "_link", "_id", "_events", "gone", "_body_end", "deferred",
        # app thread side
        "_request", "_headers", "_head", "_head_sent", "_on_wire", "_done", "_unacked", "_pending", "_eof",
    )

    def __init__(self, interface: WSGIInterface, link: Link, stream_id: int, request: RequestHead, end: bool) -> None:
        self._interface = interface
        self._link = link
        self._id = stream_id
        self._events: "SimpleQueue[Any]" = SimpleQueue()
        self.gone = False
        self._body_end = end  # the reader received the last body chunk: acks are no use any more
        self.deferred = False  # the app starts with the first body chunk (a small body)
        self._request: Optional[RequestHead] = request
        self._headers: Any = None  # start_response's, for the declared length of an iterable's body
        self._head: Optional[bytes] = None  # from start_response
        self._head_sent = False  # the head was queued for Bun
        self._on_wire = False  # a RESPONSE frame without END was queued: a 500 is no longer possible
        self._done = False  # the response ended (or was aborted) for Bun
        self._unacked = 0  # response bytes queued that Bun has not acknowledged
        self._pending: Deque[bytes] = deque()  # body chunks taken off the queue, not yet read
        self._eof = end  # the app thread saw the end of the body

    # Reader side: frames from Bun (called holding the link's lock)

    def on_body(self, chunk: bytes, end: bool) -> None:
        put = self._events.put
        if end:
            self._body_end = True
        if chunk:
            put(chunk)
        if end:
            put(_END)
        if self.deferred:
            self.deferred = False
            self._link.pending.append(self)

    def on_ack(self, size: int) -> None:
        self._events.put(size)

    def on_disconnect(self) -> None:
        self.gone = True
        self._events.put(_GONE)

    # App thread

    def run(self) -> None:
        """Call the app and send what it returns."""
        request, self._request = self._request, None
        assert request is not None
        result: Any = None
        try:
            result = self._interface.app(self._interface.environ(self, request), self.start_response)
            if type(result) is list or type(result) is tuple:
                self._send_sequence(result)
            else:
                self._send_iterable(result)
        except ClientDisconnected:
            pass
        except BaseException as exc:
            if self.gone:
                logger.debug("WSGI application failed after the client disconnected", exc_info=True)
            elif isinstance(exc, _ResponseError):
                logger.error("%s", exc)
                self._fail(str(exc))
            else:
                logger.exception("Exception in WSGI application")
                self._fail("the WSGI application raised an exception")
        finally:
            # PEP 3333: close() is called however the request ended, client gone included.
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException:
                    logger.exception("Exception in close() of the WSGI response iterable")

    def start_response(self, status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self._head_sent:
                    # PEP 3333: too late to replace the response; the error goes up through the app.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self._head is not None:
            raise RuntimeError("start_response() was already called (pass exc_info to replace the response)")
        self._head = encode_wsgi_head(status, headers)
        self._headers = headers
        return self._write

    def _send_sequence(self, items: Any) -> None:
        if len(items) == 1:
            body = items[0]
            if type(body) is not bytes:
                body = _as_bytes(body)
        else:
            try:
                body = b"".join(items)
            except TypeError:
                for item in items:
                    _as_bytes(item)  # raises the clear error
                raise
        if len(body) <= MAX_CHUNK:
            # The whole response at once: one RESPONSE frame with END, its length exact.
            self._send(body, True)
        else:
            self._write(body)
            self._send(b"", True)

    def _send_iterable(self, result: Any) -> None:
        write = self._write
        for chunk in result:
            if chunk:
                # A body that comes whole in its first item, at the length the app declared
                # (Django's and Flask's responses), ends there: one frame with END, as a list's.
                # (start_response may come with the first item: PEP 3333 allows it.)
                if not self._head_sent and self._headers is not None and len(chunk) <= MAX_CHUNK:
                    if len(chunk) == _declared_length(self._headers):
                        self._send(chunk if type(chunk) is bytes else _as_bytes(chunk), True)
                        return  # PEP 3333: a server may stop at the declared length; close() still runs
                write(chunk)
            elif self.gone:
                break
        self._send(b"", True)

    def _write(self, data: Any) -> None:
        """The write() callable of start_response, and each item of the response iterable."""
        if type(data) is not bytes:
            data = _as_bytes(data)
        size = len(data)
        if size <= MAX_CHUNK:
            if size:
                self._send(data, False)
            return
        view = memoryview(data)
        for offset in range(0, size, MAX_CHUNK):
            self._send(view[offset : offset + MAX_CHUNK], False)

    def _send(self, chunk: Any, end: bool) -> None:
        if self.gone:
            raise ClientDisconnected("the client disconnected")
        if self._done:
            return  # ended at the declared length; what the app writes beyond it is not sent
        size = len(chunk)
        if self._unacked and self._unacked + size > WINDOW:
            self._wait_for_acks(size)
        link = self._link
        flags = FLAG_END if end else 0
        if self._head_sent:
            link.write_frame(RESPONSE_BODY, flags, self._id, chunk)
        else:
            head = self._head
            if head is None:
                raise _ResponseError("the WSGI application did not call start_response() before returning its body")
            self._head_sent = True
            link.write_frame(RESPONSE, flags, self._id, head, chunk)
        if end:
            self._finish()
        else:
            self._on_wire = True
            self._unacked += size
            # The app may take its time over the next piece (a stream): this one goes now.
            link.flush()

    def _fail(self, reason: str) -> None:
        """500 while nothing is on the wire, else abort (Bun drops the client connection)."""
        if self._done or self.gone:
            return
        if self._on_wire:
            self._link.write_frame(RESPONSE_ABORT, 0, self._id, reason.encode("utf-8"))
        else:
            self._link.write_frame(RESPONSE, FLAG_END, self._id, ERROR_HEAD, ERROR_BODY)
        self._finish()

    def _finish(self) -> None:
        self._done = True  # the link forgets the stream when run() returns

    def _next_event(self) -> Any:
        """The next frame's event for this stream, reading the link itself when nobody else does."""
        events = self._events
        link = self._link
        while True:
            try:
                return events.get_nowait()
            except Empty:
                pass
            if not link.read_for_app():
                link.flush()  # an ack this thread queued may be what Bun waits for
                return events.get()

    def _wait_for_acks(self, size: int) -> None:
        """Block while Bun holds a window's worth of this response (the client reads slowly)."""
        while self._unacked and self._unacked + size > WINDOW:
            if self.gone:
                raise ClientDisconnected("the client disconnected")
            self._dispatch(self._next_event())

    def _dispatch(self, event: Any) -> None:
        kind = type(event)
        if kind is int:
            self._unacked -= event
        elif kind is bytes:
            self._pending.append(event)
        elif event is _END:
            self._eof = True
        # _GONE only wakes the thread up: `gone` is already set

    def take_chunk(self) -> Optional[bytes]:
        """The next request body chunk, waiting for it if need be; None at the end of the body."""
        pending = self._pending
        events = self._events
        while not pending:
            if self._eof:
                return None
            try:
                event = events.get_nowait()
            except Empty:
                # Body that arrived before the client left is still read; beyond it, fail.
                if self.gone:
                    raise ClientDisconnected("the client disconnected before sending the whole body") from None
                event = self._next_event()
            self._dispatch(event)
        chunk = pending.popleft()
        if not self._body_end:
            # Bun reads more of the client's body only as the app takes it (request window).
            self._link.write_frame(REQUEST_ACK, 0, self._id, _pack_u32(len(chunk)))
        return chunk


def _declared_length(headers: Any) -> Optional[int]:
    for name, value in headers:
        if len(name) == 14 and name.lower() == "content-length":
            return int(value) if value.isdigit() else None
    return None


class _ResponseError(RuntimeError):
    """The app broke the response protocol (start_response never called): a 500 and one log line."""

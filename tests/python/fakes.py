"""Bun's side of a connection, played in-process: no socket, no Bun.

`FakeBun` feeds encoded frames to a real `Connection` and decodes what the connection wrote
to its `FakeTransport`, the way uvicorn's protocol tests drive its HTTP protocols.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Tuple

from granian_ts.config import Config
from granian_ts.connection import Connection
from granian_ts.interfaces import load_interface
from granian_ts.protocol import (
    FLAG_END,
    REQUEST,
    REQUEST_BODY,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_BODY,
    RESPONSE_FILE,
    U32,
    FrameDecoder,
    encode_frame,
)

Frame = Tuple[int, int, int, bytes]


def encode_request_head(
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: Iterable[Tuple[str, str]] = (),
    scheme: str = "http",
    client: Tuple[str, int] = ("127.0.0.1", 50000),
    http_version: str = "1.1",
) -> bytes:
    """What Bun's codec produces: NUL-joined UTF-8 text, header bytes as latin-1 code points."""
    fields = [method, scheme, http_version, client[0], str(client[1]), path, query]
    for name, value in headers:
        fields += [name, value]
    return "\0".join(fields).encode("utf-8")


def decode_response_head(payload: bytes) -> Tuple[int, List[Tuple[bytes, bytes]], bytes]:
    (size,) = U32.unpack_from(payload)
    fields = [f.decode("utf-8").encode("latin-1") for f in payload[4 : 4 + size].split(b"\0")]
    return int(fields[0]), list(zip(fields[1::2], fields[2::2])), payload[4 + size :]


@dataclass
class Response:
    status: int = 0
    headers: List[Tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    aborted: Optional[bytes] = None
    file: Optional[List[str]] = None  # RESPONSE_FILE: [path] or [path, start, end]
    frames: List[Frame] = field(default_factory=list)


class FakeTransport:
    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0
        self.closed = False
        # A socket pair, made when an interface that takes connections (WSGI) asks for the
        # socket: it gets `sock` (and dups it), Bun's side is `peer`.
        self.sock: Optional[socket.socket] = None
        self.peer: Optional[socket.socket] = None
        self.paused = False

    def get_extra_info(self, name: str) -> Any:
        if name != "socket":
            return None
        if self.sock is None:
            self.peer, self.sock = socket.socketpair()
            self.peer.setblocking(False)
        return self.sock

    def pause_reading(self) -> None:
        self.paused = True

    def write(self, data: bytes) -> None:
        self.data += data
        self.writes += 1

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


class FakeHost:
    def __init__(self, interface: Any) -> None:
        self.interface = interface
        self.hellos = 0
        self.stops = 0

    def on_hello(self, conn: Connection) -> None:
        self.hellos += 1

    def on_stop(self, conn: Connection) -> None:
        self.stops += 1


async def start_interface(app: Any, interface: str = "asgi", **options: Any) -> Any:
    config = Config(socket="/unused.sock", target="tests:app", interface=interface, **options)
    served = load_interface(interface)(app, config)
    await served.startup()
    return served


class FakeBun:
    """Frames go in through `data_received` and come out of the FakeTransport, until the
    interface takes the connection (WSGI): from then on they cross a real socket pair."""

    def __init__(self, interface: Any) -> None:
        self.host = FakeHost(interface)
        self.transport = FakeTransport()
        self.conn = Connection(self.host)
        self.conn.connection_made(self.transport)  # type: ignore[arg-type]
        self.frames: List[Frame] = []
        self._decoder = FrameDecoder()
        self._seen = 0

    @classmethod
    async def serving(cls, app: Any, interface: str = "asgi", **options: Any) -> "FakeBun":
        return cls(await start_interface(app, interface, **options))

    @property
    def handed_over(self) -> bool:
        return self.transport.paused

    @property
    def peer(self) -> socket.socket:
        assert self.transport.peer is not None, "the connection was not handed over"
        return self.transport.peer

    def send(self, ftype: int, stream: int, payload: bytes = b"", end: bool = False) -> None:
        data = encode_frame(ftype, FLAG_END if end else 0, stream, payload)
        if self.handed_over:
            self.peer.setblocking(True)
            try:
                self.peer.sendall(data)
            finally:
                self.peer.setblocking(False)
        else:
            self.conn.data_received(data)

    def send_raw(self, data: bytes) -> None:
        """Bytes as they come, after the hand-over (a broken frame, say)."""
        self.peer.sendall(data)

    def close(self) -> None:
        """Bun's end of the socket goes away (after a hand-over)."""
        for sock in (self.transport.peer, self.transport.sock):
            if sock is not None:
                sock.close()

    def request(self, stream: int = 1, body: Optional[bytes] = None, **head: Any) -> None:
        """REQUEST (with END when there is no body), then the whole body as one last chunk."""
        self.send(REQUEST, stream, encode_request_head(**head), end=body is None)
        if body is not None:
            self.send(REQUEST_BODY, stream, body, end=True)

    def received(self) -> List[Frame]:
        data = bytes(self.transport.data[self._seen :])
        self._seen = len(self.transport.data)
        if self.handed_over:
            while True:
                try:
                    chunk = self.peer.recv(1 << 20)
                except (BlockingIOError, OSError):
                    break
                if not chunk:
                    break
                data += chunk
        self.frames += self._decoder.feed(data)
        return self.frames

    def of(self, stream: int, ftype: Optional[int] = None) -> List[Frame]:
        return [f for f in self.received() if f[2] == stream and (ftype is None or f[0] == ftype)]

    async def until(self, predicate: Callable[[], Any], timeout: float = 2.0) -> None:
        """Let the loop run until `predicate()` holds; fail instead of hanging."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.handed_over:
                self.received()  # Bun reads whatever the worker writes, as it comes
            if loop.time() > deadline:
                raise AssertionError("condition not reached")
            await asyncio.sleep(0)

    async def settle(self, ticks: int = 20) -> None:
        for _ in range(ticks):
            if self.handed_over:
                self.received()
            await asyncio.sleep(0)

    def response_done(self, stream: int) -> bool:
        return any(
            f[0] in (RESPONSE_ABORT, RESPONSE_FILE) or (f[0] in (RESPONSE, RESPONSE_BODY) and f[1] & FLAG_END)
            for f in self.of(stream)
        )

    async def response(self, stream: int = 1) -> Response:
        await self.until(lambda: self.response_done(stream))
        result = Response()
        for frame in self.of(stream):
            ftype, _, _, payload = frame
            if ftype == RESPONSE:
                result.status, result.headers, result.body = decode_response_head(payload)
            elif ftype == RESPONSE_BODY:
                result.body += payload
            elif ftype == RESPONSE_ABORT:
                result.aborted = payload
            elif ftype == RESPONSE_FILE:
                result.status, result.headers, tail = decode_response_head(payload)
                result.file = tail.decode("utf-8").split("\0")
            else:
                continue
            result.frames.append(frame)
        return result

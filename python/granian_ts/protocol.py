"""The Bun ⇄ Python frame codec (docs/protocol.md); `src/_protocol.ts` is its twin.

Both codecs are checked against the same golden bytes (tests/golden/frames.json).
Everything here is on the per-request path, so it works on whole byte strings
(split, join, struct) and never loops over single bytes.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from typing import Any, List, Optional, Sequence, Tuple

# Bun → Python
REQUEST = 0x01
REQUEST_BODY = 0x02
DISCONNECT = 0x03
RESPONSE_ACK = 0x04
WS_OPEN = 0x05
WS_MESSAGE = 0x06
WS_CLOSE = 0x07
WS_ACK = 0x08
HELLO = 0x20
STOP = 0x23
# Python → Bun
RESPONSE = 0x11
RESPONSE_BODY = 0x12
RESPONSE_ABORT = 0x13
REQUEST_ACK = 0x14
RESPONSE_FILE = 0x15
WS_ACCEPT = 0x16
WS_SEND = 0x17
WS_END = 0x18
WS_MESSAGE_ACK = 0x19
READY = 0x21
STARTUP_FAILED = 0x22
STOPPED = 0x24
STARTING = 0x25

FRAME_TYPES = frozenset(
    (
        REQUEST, REQUEST_BODY, DISCONNECT, RESPONSE_ACK, WS_OPEN, WS_MESSAGE, WS_CLOSE, WS_ACK, HELLO, STOP,
        RESPONSE, RESPONSE_BODY, RESPONSE_ABORT, REQUEST_ACK, RESPONSE_FILE, WS_ACCEPT, WS_SEND, WS_END,
        WS_MESSAGE_ACK, READY, STARTUP_FAILED, STOPPED, STARTING,
    )
)

FLAG_END = 0x01
FLAG_BINARY = 0x02  # WS_MESSAGE / WS_SEND: a binary message (else UTF-8 text)

MAX_PAYLOAD = 16 * 1024 * 1024
MAX_CHUNK = 1024 * 1024
WINDOW = 1024 * 1024

# length u32, type u8, flags u8, reserved u16, stream u32 — all little-endian.
HEADER = struct.Struct("<IBBHI")
HEADER_SIZE = HEADER.size
U32 = struct.Struct("<I")
U16 = struct.Struct("<H")

_pack_header = HEADER.pack
_unpack_header = HEADER.unpack_from

Frame = Tuple[int, int, int, bytes]
Headers = List[Tuple[bytes, bytes]]
RequestHead = Tuple[str, str, str, str, int, bytes, bytes, Headers]
TextHeaders = Sequence[Tuple[str, str]]

# method, scheme, http_version, client_host, client_port, raw_path, query_string
_REQUEST_FIELDS = 7


class ProtocolError(Exception):
    """The peer broke docs/protocol.md; the connection cannot be trusted any more."""


def encode_frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return _pack_header(len(payload), ftype, flags, 0, stream) + payload


def frame_header(ftype: int, flags: int, stream: int, length: int) -> bytes:
    """The 12 header bytes alone, so a large payload can be written without a copy."""
    return _pack_header(length, ftype, flags, 0, stream)


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get back whole frames.

    A partial frame is kept until enough bytes arrived; `_need` remembers how many that is,
    so a 1 MiB body arriving in 64 KiB reads is not re-parsed (and copied) on every read.
    """

    __slots__ = ("_buffer", "_need")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._need = 0

    def feed(self, data: bytes) -> List[Frame]:
        """Return the frames completed by `data` as (type, flags, stream, payload) tuples."""
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return []
            view = memoryview(buffer)
            try:
                frames, used = self._parse(view)
            finally:
                view.release()  # a bytearray with a live export cannot be resized
            del buffer[:used]
        else:
            frames, used = self._parse(data)
            if used < len(data):
                buffer += memoryview(data)[used:]
        if buffer:
            self._need = self._frame_size(buffer) if len(buffer) >= HEADER_SIZE else HEADER_SIZE
        return frames

    @staticmethod
    def _frame_size(buffer: bytearray) -> int:
        return HEADER_SIZE + _unpack_header(buffer)[0]

    @staticmethod
    def _parse(data) -> Tuple[List[Frame], int]:
        frames: List[Frame] = []
        offset = 0
        end = len(data)
        known = FRAME_TYPES
        while end - offset >= HEADER_SIZE:
            length, ftype, flags, _, stream = _unpack_header(data, offset)
            if length > MAX_PAYLOAD:
                raise ProtocolError(f"frame length {length} exceeds MAX_PAYLOAD ({MAX_PAYLOAD})")
            if ftype not in known:
                raise ProtocolError(f"unknown frame type 0x{ftype:02x}")
            start = offset + HEADER_SIZE
            stop = start + length
            if stop > end:
                break
            # bytes(...) of a slice is the single copy a payload costs (memoryview or bytes).
            frames.append((ftype, flags, stream, bytes(data[start:stop])))
            offset = stop
        return frames, offset


def _latin1_fields(payload: bytes) -> List[bytes]:
    """Split NUL-joined text, turning the UTF-8 of latin-1 code points back into raw bytes."""
    try:
        return [
            field if field.isascii() else field.decode("utf-8").encode("latin-1")
            for field in payload.split(b"\0")
        ]
    except UnicodeError as exc:
        raise ProtocolError(f"text field is not UTF-8 of latin-1 code points: {exc}") from None


def decode_request_head(payload: bytes) -> RequestHead:
    """Decode a REQUEST payload into its fields; header names/values stay raw bytes."""
    # ASCII is identical in both encodings, and nearly every request is ASCII.
    fields = payload.split(b"\0") if payload.isascii() else _latin1_fields(payload)
    count = len(fields)
    if count < _REQUEST_FIELDS or (count - _REQUEST_FIELDS) % 2:
        raise ProtocolError(f"REQUEST head has {count} fields")
    method, scheme, version, host, port, raw_path, query = fields[:_REQUEST_FIELDS]
    try:
        client_port = int(port) if port else 0
    except ValueError:
        raise ProtocolError(f"REQUEST client_port is not a number: {port!r}") from None
    return (
        method.decode("latin-1"),
        scheme.decode("latin-1"),
        version.decode("latin-1"),
        host.decode("latin-1"),
        client_port,
        raw_path,
        query,
        list(zip(fields[7::2], fields[8::2])),
    )


def decode_request_fields(payload: bytes) -> List[str]:
    """A REQUEST payload as its text fields: method, scheme, http_version, client_host,
    client_port, raw_path, query_string, then header names and values (latin-1 code points).

    For interfaces whose apps see text (RSGI): one decode of the whole head instead of one per
    field, and the field count is checked as `decode_request_head` does.
    """
    try:
        fields = payload.decode("utf-8").split("\0")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"REQUEST head is not UTF-8: {exc}") from None
    count = len(fields)
    if count < _REQUEST_FIELDS or (count - _REQUEST_FIELDS) % 2:
        raise ProtocolError(f"REQUEST head has {count} fields")
    return fields


# A response head as HTTP allows it: the status, then name/value pairs whose names are tokens
# (RFC 9110 §5.6.2: no space, colon, quote, empty name, ...) and whose values hold no control
# character but tab (§5.5; what hyper, so Granian, also refuses). A bad name or a CR, LF or NUL
# makes Bun throw while building the `Response`; other control characters make strict clients
# (h11, so httpx) reject the whole response. Either way it is refused here, where the app gets
# a clear error and only its own request a 500. One match over the joined head (plus a count of
# its NULs, so that a value smuggling a NUL cannot pose as an extra pair) costs less than
# checking field by field; the field walk runs only to name the culprit of a head that failed.
_TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
_VALUE = r"[\t\x20-\x7e\x80-\xff]*"
_HEAD = "[0-9]{3}(?:\0" + _TOKEN + "\0" + _VALUE + ")*"
try:
    # Possessive repeats (Python 3.11+) never backtrack: about a fifth faster on a clean head.
    _FAST_HEAD = "[0-9]{3}(?:\0" + _TOKEN + "+\0" + _VALUE + "+)*+"
    re.compile(_FAST_HEAD)
    _HEAD = _FAST_HEAD
except re.error:
    pass
_clean_head = re.compile(_HEAD.encode("latin-1")).fullmatch
# Text heads (RSGI, WSGI) go out as UTF-8: any code point past ASCII is fine.
_clean_text_head = re.compile(_HEAD.replace("\\xff", "\\U0010ffff")).fullmatch
_value_bytes = re.compile(_VALUE.encode("latin-1")).fullmatch
_value_text = re.compile(_VALUE.replace("\\xff", "\\U0010ffff")).fullmatch
_token = re.compile(_TOKEN).fullmatch
_token_bytes = re.compile(_TOKEN.encode("ascii")).fullmatch


def bad_header_field(fields: Sequence[Any], what: str = "response header") -> ValueError:
    """The error naming the first bad name or value of `fields` (status, name, value, ...)."""
    for index in range(1, len(fields) - 1, 2):
        name, value = fields[index], fields[index + 1]
        if isinstance(name, str):
            token, clean, nul, cr, lf = _token, _value_text, "\0", "\r", "\n"
        else:
            name, value = bytes(name), bytes(value)
            token, clean, nul, cr, lf = _token_bytes, _value_bytes, b"\0", b"\r", b"\n"
        if token(name) is None:
            return ValueError(f"invalid {what} name {name!r}: not an HTTP token (RFC 9110)")
        if nul in value or cr in value or lf in value:
            return ValueError(f"invalid {what} value {value!r} for {name!r}: contains NUL, CR or LF")
        if clean(value) is None:
            return ValueError(f"invalid {what} value {value!r} for {name!r}: contains a control character (RFC 9110)")
    return ValueError(f"invalid {what}s {fields[1:]!r}")


class HeadCache(dict):  # type: ignore[type-arg]
    """Heads seen before, joined -> their checked RESPONSE prefix.

    Most responses repeat a few heads, and a hit skips the match, the encode and the length
    prefix (~0.3 µs of a 0.7 µs encode). Emptied when full, so heads that never repeat (a
    per-request cookie) cost a clear now and then and never hold memory. One per way of
    encoding: the same text head goes to Bun as different bytes for RSGI and for WSGI.
    """

    __slots__ = ()
    MAX = 512

    def remember(self, head: Any, prefix: bytes) -> bytes:
        if len(self) >= self.MAX:
            self.clear()
        self[head] = prefix
        return prefix


_HEADS = HeadCache()
_TEXT_HEADS = HeadCache()


# The status as head text, looked up: formatting an int costs more than the lookup.
_STATUS_BYTES = {code: b"%d" % code for code in range(100, 600)}
_STATUS_TEXT = {code: "%d" % code for code in range(100, 600)}


def encode_response_head_prefix(status: int, headers: Sequence[Tuple[bytes, bytes]]) -> bytes:
    """The start of a RESPONSE payload: u32 head length, then the NUL-joined head.

    ValueError/TypeError (naming the header) for what Bun could not frame; the caller checked
    `status`."""
    fields = [_STATUS_BYTES.get(status) or b"%d" % status]
    append = fields.append
    try:
        for name, value in headers:
            append(name)
            append(value)
    except (TypeError, ValueError):
        raise TypeError(f"response headers must be an iterable of (name, value) pairs, got {headers!r:.200}") from None
    try:
        head = b"\0".join(fields)
    except TypeError:
        bad = next(f for f in fields if not isinstance(f, (bytes, bytearray, memoryview)))
        raise TypeError(f"response header names and values must be bytes, got {bad!r}") from None
    # The NUL count first: fields that smuggle a NUL can join to a head cached from clean ones.
    if head.count(b"\0") != len(fields) - 1:
        raise bad_header_field(fields)
    prefix = _HEADS.get(head)
    if prefix is not None:
        return prefix
    key = head
    if _clean_head(head) is None:
        raise bad_header_field(fields)
    if not head.isascii():
        head = head.decode("latin-1").encode("utf-8")
    return _HEADS.remember(key, U32.pack(len(head)) + head)


def encode_response_head(status: int, headers: Sequence[Tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    """A whole RESPONSE payload: head plus the first body chunk."""
    return encode_response_head_prefix(status, headers) + body


def check_text_head(head: str, fields: Sequence[str], what: str = "response header") -> None:
    """Raise for a NUL-joined text head (`fields` joined) that Bun could not frame."""
    if head.count("\0") != len(fields) - 1 or _clean_text_head(head) is None:
        raise bad_header_field(fields, what)


def encode_response_head_text(status: int, headers: TextHeaders) -> bytes:
    """`encode_response_head_prefix` for apps that give headers as text (RSGI).

    Text goes on the HTTP wire as UTF-8, as Granian sends it; each of those bytes travels to
    Bun as a latin-1 code point (docs/protocol.md, text fields).
    """
    fields = [_STATUS_TEXT.get(status) or "%d" % status]
    append = fields.append
    try:
        for name, value in headers:
            append(name)
            append(value)
    except (TypeError, ValueError):
        raise TypeError(f"response headers must be an iterable of (name, value) pairs, got {headers!r:.200}") from None
    try:
        head = "\0".join(fields)
    except TypeError:
        bad = next(f for f in fields if not isinstance(f, str))
        raise TypeError(f"response header names and values must be str, got {bad!r}") from None
    if head.count("\0") != len(fields) - 1:
        raise bad_header_field(fields)
    prefix = _TEXT_HEADS.get(head)
    if prefix is not None:
        return prefix
    if head.isascii():
        data = head.encode("ascii")
    else:
        data = head.encode("utf-8").decode("latin-1").encode("utf-8")
    # Checked as the bytes that go to Bun: past ASCII every byte is >= 0x80, so a name with
    # such a character fails the token class and a value passes, as they should.
    if _clean_head(data) is None:
        raise bad_header_field(fields)
    return _TEXT_HEADS.remember(head, U32.pack(len(data)) + data)


def encode_file_target(path: str, start: Optional[int] = None, end: Optional[int] = None) -> bytes:
    """The tail of a RESPONSE_FILE payload (after the head): the path, and the range if any."""
    if "\0" in path:
        raise ValueError("file path contains a NUL byte")
    if start is None:
        return path.encode("utf-8")
    return f"{path}\0{start:d}\0{end:d}".encode("utf-8")


def encode_close(code: int, reason: str = "") -> bytes:
    """A WS_CLOSE / WS_END payload: u16 close code, then the UTF-8 reason."""
    return U16.pack(code) + reason.encode("utf-8")


def decode_close(payload: bytes) -> Tuple[int, str]:
    if len(payload) < 2:
        raise ProtocolError("close payload shorter than its code")
    return U16.unpack_from(payload)[0], payload[2:].decode("utf-8", "replace")


# The pure-Python codec above is the reference. When `_speedups.c` was built (scripts/setup.sh,
# `npm pack`) and `--speedups` is on (GRANIAN_TS_SPEEDUPS, set for every worker by Bun), its C
# twins of the four functions every request calls take their names: 2-4 µs less per request
# (bench/RESULTS.md). They hand back to these for everything off the common path.
PURE = (FrameDecoder._parse, decode_request_head, encode_response_head_prefix, encode_response_head_text)


def _load_speedups() -> Any:
    if os.environ.get("GRANIAN_TS_SPEEDUPS", "1") in ("0", "false", ""):
        return None
    if sys.version_info < (3, 10):
        return None  # built for the stable ABI of 3.10 on: an older CPython may load it, and is not promised it works
    try:
        from . import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    _speedups.bind(ProtocolError, FRAME_TYPES, MAX_PAYLOAD, *PURE, _HEADS, _TEXT_HEADS, _STATUS_BYTES, _STATUS_TEXT)
    return _speedups


speedups = _load_speedups()
if speedups is not None:
    FrameDecoder._parse = staticmethod(speedups.parse_frames)  # type: ignore[method-assign,assignment]
    decode_request_head = speedups.decode_request_head  # noqa: F811
    encode_response_head_prefix = speedups.encode_response_head_prefix  # noqa: F811
    encode_response_head_text = speedups.encode_response_head_text  # noqa: F811

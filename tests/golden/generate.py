"""Write tests/golden/frames.json from the frame list below, with the Python codec.

    .venv/bin/python tests/golden/generate.py

Deterministic: the same list gives the same bytes, and tests/python/test_protocol.py checks
that the committed file is exactly what this script writes. Add a frame at the end of the
list; never change the bytes of an existing one (both codecs are tested against them).
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "python"))

from granian_ts.protocol import (  # noqa: E402
    DISCONNECT,
    FLAG_END,
    HELLO,
    READY,
    REQUEST,
    REQUEST_ACK,
    REQUEST_BODY,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_ACK,
    RESPONSE_BODY,
    RESPONSE_FILE,
    STARTUP_FAILED,
    STOP,
    STOPPED,
    U32,
    WS_ACCEPT,
    WS_ACK,
    WS_CLOSE,
    WS_END,
    WS_MESSAGE,
    WS_MESSAGE_ACK,
    WS_OPEN,
    WS_SEND,
    FLAG_BINARY,
    encode_close,
    encode_file_target,
    encode_frame,
    encode_response_head,
    encode_response_head_prefix,
)

OUT = HERE / "frames.json"
NOTE = "see docs/protocol.md; the x-latin header value is the latin-1 string 'caf\\u00e9' carried as UTF-8"

_REQUEST_HEAD = "\0".join(
    ["GET", "http", "1.1", "127.0.0.1", "50000", "/items/%C3%A9", "q=1&r=%20", "host", "example.com", "x-latin", "caf\u00e9"]
).encode("utf-8")
_WS_HEAD = "\0".join(
    [
        "GET", "http", "1.1", "127.0.0.1", "50001", "/ws", "", "host", "example.com", "upgrade", "websocket",
        "sec-websocket-protocol", "chat, superchat",
    ]
).encode("utf-8")
_FILE_HEAD = encode_response_head_prefix(200, [(b"content-type", b"text/plain")])

# name, type, flags, stream, payload
FRAMES = [
    ("request_no_body", REQUEST, FLAG_END, 1, _REQUEST_HEAD),
    ("request_body_chunk", REQUEST_BODY, 0, 1, bytes(range(256))),
    ("request_body_end_empty", REQUEST_BODY, FLAG_END, 1, b""),
    ("disconnect", DISCONNECT, 0, 7, b""),
    ("response_ack", RESPONSE_ACK, 0, 7, U32.pack(65536)),
    (
        "response_with_body_end",
        RESPONSE,
        FLAG_END,
        0xFFFFFFFF,
        encode_response_head(
            200, [(b"content-type", b"text/plain"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")], b"hello"
        ),
    ),
    ("response_body", RESPONSE_BODY, 0, 2, b"\x00\xff chunk"),
    ("response_abort", RESPONSE_ABORT, 0, 2, b"boom"),
    ("request_ack", REQUEST_ACK, 0, 2, U32.pack(1024 * 1024)),
    ("hello", HELLO, 0, 0, b""),
    ("ready", READY, 0, 0, b'{"pid":1234}'),
    ("startup_failed", STARTUP_FAILED, 0, 0, "could not import \u00e9".encode("utf-8")),
    ("stop", STOP, 0, 0, b""),
    ("stopped", STOPPED, 0, 0, b""),
    ("response_file", RESPONSE_FILE, FLAG_END, 3, _FILE_HEAD + encode_file_target("/srv/static/caf\u00e9.txt")),
    (
        "response_file_range",
        RESPONSE_FILE,
        FLAG_END,
        3,
        encode_response_head_prefix(206, [(b"content-range", b"bytes 2-4/20")])
        + encode_file_target("/srv/data.bin", 2, 5),
    ),
    ("ws_open", WS_OPEN, 0, 9, _WS_HEAD),
    (
        "ws_accept",
        WS_ACCEPT,
        0,
        9,
        encode_response_head_prefix(101, [(b"sec-websocket-protocol", b"chat"), (b"x-extra", b"1")]),
    ),
    ("ws_message_text_end", WS_MESSAGE, FLAG_END, 9, "h\u00e9llo".encode("utf-8")),
    ("ws_message_binary_fragment", WS_MESSAGE, FLAG_BINARY, 9, b"\x00\x01\xff"),
    ("ws_message_binary_end", WS_MESSAGE, FLAG_BINARY | FLAG_END, 9, b"\x02"),
    ("ws_send_text_end", WS_SEND, FLAG_END, 9, b"hi"),
    ("ws_send_binary_end", WS_SEND, FLAG_BINARY | FLAG_END, 9, b"\x00\xff"),
    ("ws_ack", WS_ACK, 0, 9, U32.pack(2)),
    ("ws_message_ack", WS_MESSAGE_ACK, 0, 9, U32.pack(5)),
    ("ws_close", WS_CLOSE, 0, 9, encode_close(1001, "going away")),
    ("ws_end", WS_END, 0, 9, encode_close(4000, "bye \u00e9")),
]


def golden() -> dict:
    return {
        "note": NOTE,
        "frames": [
            {
                "name": name,
                "type": ftype,
                "flags": flags,
                "stream": stream,
                "payload_hex": payload.hex(),
                "hex": encode_frame(ftype, flags, stream, payload).hex(),
            }
            for name, ftype, flags, stream, payload in FRAMES
        ],
    }


def render() -> str:
    return json.dumps(golden(), indent=1)


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {len(FRAMES)} frames to {OUT}")

"""The C codec (python/granian_ts/_speedups.c) against its pure-Python twins in protocol.py.

Each C function must return what its twin returns and raise what it raises, on the golden frames,
on the heads apps and clients really send, and on random bytes. scripts/setup.sh builds the
module; a checkout without a C compiler fails here, by design (CI always has one).
"""

import errno
import os
import random
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from granian_ts import _speedups, protocol
from granian_ts.protocol import FRAME_TYPES, HEADER, MAX_PAYLOAD, PURE, REQUEST, ProtocolError, encode_frame

pure_parse, pure_decode, pure_encode, pure_encode_text = PURE
PYTHON_DIR = Path(protocol.__file__).resolve().parent.parent


def outcome(fn, *args):
    """What a call gives: ("ok", value) or ("raise", type, message)."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - the type and message are what is compared
        return ("raise", type(exc), str(exc))


def test_the_worker_uses_the_c_codec_when_built():
    assert protocol.speedups is _speedups
    assert protocol.decode_request_head is _speedups.decode_request_head
    assert protocol.FrameDecoder._parse is _speedups.parse_frames
    assert protocol.encode_response_head_prefix is _speedups.encode_response_head_prefix
    assert protocol.encode_response_head_text is _speedups.encode_response_head_text
    from granian_ts.interfaces import _wsgi_link

    assert _wsgi_link._send_now is _speedups.send_now


@pytest.mark.parametrize("value,expected", [("0", None), ("false", None), ("1", "C"), (None, "C")])
def test_granian_ts_speedups_chooses_the_codec(value, expected):
    env = {k: v for k, v in os.environ.items() if k != "GRANIAN_TS_SPEEDUPS"}
    if value is not None:
        env["GRANIAN_TS_SPEEDUPS"] = value
    env["PYTHONPATH"] = str(PYTHON_DIR)
    code = "from granian_ts import protocol as p; print('C' if p.speedups else None, p.decode_request_head is p.PURE[1])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(expected), str(expected is None)]


# Frames


def test_golden_frames_parse_alike_at_every_cut(golden_frames):
    data = b"".join(bytes.fromhex(f["hex"]) for f in golden_frames)
    for cut in range(len(data) + 1):
        assert outcome(_speedups.parse_frames, data[:cut]) == outcome(pure_parse, data[:cut])


def test_random_bytes_parse_alike():
    rng = random.Random(11)
    types = sorted(FRAME_TYPES) + [0x00, 0x30, 0xFF]
    for _ in range(3000):
        frames = b"".join(
            HEADER.pack(rng.choice([0, 1, 5, 100, MAX_PAYLOAD, MAX_PAYLOAD + 1, 2**32 - 1]), rng.choice(types),
                        rng.randrange(256), rng.randrange(65536), rng.randrange(2**32))
            + bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
            for _ in range(rng.randrange(4))
        )
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        for data in (frames, noise, frames + noise):
            assert outcome(_speedups.parse_frames, data) == outcome(pure_parse, data)


def test_not_bytes_is_the_twins_to_parse():
    data = encode_frame(REQUEST, 1, 7, b"GET") * 2
    for view in (memoryview(data), bytearray(data), memoryview(data)[:20]):
        assert _speedups.parse_frames(view) == pure_parse(view)


# Request heads


def head(*fields):
    return b"\0".join(fields)


HEADS = [
    head(b"GET", b"http", b"1.1", b"127.0.0.1", b"54321", b"/", b"", b"host", b"127.0.0.1:8000"),
    head(b"POST", b"https", b"2", b"::1", b"1", b"/a%20b", b"x=1&y", b"content-type", b"text/plain", b"a", b""),
    head(b"GET", b"http", b"1.0", b"", b"", b"/", b""),  # a Unix socket: no client
    head(b"PATCH", b"http", b"1.1", b"10.0.0.1", b"65535", b"/", b"q", *[b"x-h", b"v"] * 200),  # past the C table
    head(b"GET", b"http", b"1.1", b"h", b"+7", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b" 7 ", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b"1_0", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b"-5", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b"123456789012345678901234567890", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b"9999999999999999999", b"/", b""),  # past a C long
    head(b"GET", b"http", b"1.1", b"h", b"4294967296", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b"000000000000065535", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b"12a", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", b"0x10", b"/", b""),
    head(b"GET", b"http", b"1.1", b"h", "١٢".encode(), b"/", b""),  # non-ASCII digits
    head(b"GET", b"http", b"1.1", b"h", b"1", "/caf\u00e9".encode(), b"", b"x", "\u00ff".encode()),
    head(b"GET", b"http", b"1.1", b"h", b"1", b"/", b"", b"x", b"\xff"),  # not UTF-8
    head(b"GET", b"http", b"1.1", b"h", b"1", b"/", b"", b"odd"),  # a name without its value
    head(b"GET", b"http", b"1.1", b"h", b"1", b"/"),  # six fields
    b"",
    b"\0" * 6,
    b"\0" * 7,
]


@pytest.mark.parametrize("payload", HEADS, ids=range(len(HEADS)))
def test_request_heads_decode_alike(payload):
    assert outcome(_speedups.decode_request_head, payload) == outcome(pure_decode, payload)


def test_random_request_heads_decode_alike():
    rng = random.Random(5)
    pieces = [b"", b"GET", b"http", b"1.1", b"2", b"127.0.0.1", b"8000", b"/", b"a=b", b"host", b"x" * 300,
              b"\x7f", b"\x80", "\u00e9".encode(), b"\xc3", b"9" * 12, b" ", b"\t"]
    for _ in range(5000):
        fields = [rng.choice(pieces) for _ in range(rng.choice([5, 6, 7, 8, 9, 11, 12, 30]))]
        payload = b"\0".join(fields)
        assert outcome(_speedups.decode_request_head, payload) == outcome(pure_decode, payload), payload


def test_the_common_strings_are_not_shared_wrongly():
    a = _speedups.decode_request_head(head(b"GET", b"https", b"1.1", b"h", b"1", b"/", b""))
    b = _speedups.decode_request_head(head(b"GETX", b"http", b"1.10", b"h", b"1", b"/", b""))
    assert a[:3] == ("GET", "https", "1.1") and b[:3] == ("GETX", "http", "1.10")


def test_not_bytes_is_the_twins_to_decode():
    payload = HEADS[0]
    assert _speedups.decode_request_head(bytearray(payload)) == pure_decode(bytearray(payload))


# Response heads


def response_headers(rng):
    names = [b"content-type", b"content-length", b"x-a", b"bad name", b"", b"x\0y", b"set-cookie"]
    values = [b"text/plain", b"1024", b"", b"a\r\nb", b"\x01", b"caf\xe9", b"v\0", b"\x7f"]
    count = rng.choice([0, 1, 2, 3, 65])
    pairs = []
    for _ in range(count):
        pair = (rng.choice(names), rng.choice(values))
        roll = rng.random()
        if roll < 0.05:
            pair = [*pair]
        elif roll < 0.08:
            pair = (bytearray(pair[0]), pair[1])
        elif roll < 0.10:
            pair = (pair[0].decode("latin-1"), pair[1])
        elif roll < 0.12:
            pair = (pair[0], pair[1], b"extra")
        elif roll < 0.13:
            pair = (pair[0],)
        elif roll < 0.14:
            pair = None
        pairs.append(pair)
    shape = rng.random()
    if shape < 0.1:
        return tuple(pairs)
    if shape < 0.15:
        return iter(pairs)
    if shape < 0.17:
        return None
    return pairs


def test_random_response_heads_encode_alike():
    rng = random.Random(3)
    for _ in range(5000):
        status = rng.choice([200, 200, 404, 500, 599, 99, 600, 1000])
        headers = response_headers(rng)
        if isinstance(headers, type(iter([]))):
            items = list(headers)
            got, want = outcome(_speedups.encode_response_head_prefix, status, iter(items)), outcome(pure_encode, status, iter(items))
        else:
            # Twice each: the first may fill the head cache that the second hits.
            got = [outcome(_speedups.encode_response_head_prefix, status, headers) for _ in range(2)]
            want = [outcome(pure_encode, status, headers) for _ in range(2)]
        assert got == want, (status, headers)


def text_of(headers):
    """The same shapes with str fields, plus text the bytes never have (past latin-1)."""
    if not isinstance(headers, (list, tuple)):
        return headers
    out = []
    for pair in headers:
        if isinstance(pair, tuple) and all(isinstance(f, bytes) for f in pair):
            pair = tuple(f.decode("latin-1") for f in pair)
            if pair and pair[-1] == "caf\xe9":
                pair = (*pair[:-1], "\u20ac \U0001f600")
        out.append(pair)
    return type(headers)(out)


def test_random_text_response_heads_encode_alike():
    rng = random.Random(4)
    for _ in range(5000):
        status = rng.choice([200, 200, 404, 500, 599, 99, 600, 1000])
        headers = text_of(response_headers(rng))
        if isinstance(headers, type(iter([]))):
            items = list(headers)
            got = outcome(_speedups.encode_response_head_text, status, iter(items))
            want = outcome(pure_encode_text, status, iter(items))
        else:
            got = [outcome(_speedups.encode_response_head_text, status, headers) for _ in range(2)]
            want = [outcome(pure_encode_text, status, headers) for _ in range(2)]
        assert got == want, (status, headers)


def test_a_cached_head_is_not_hit_by_fields_that_join_into_it():
    clean = [(b"x-a", b"1"), (b"x-b", b"2")]
    prefix = _speedups.encode_response_head_prefix(200, clean)
    assert _speedups.encode_response_head_prefix(200, clean) is prefix  # a hit
    smuggled = [(b"x-a", b"1\0x-b\x002")]
    assert outcome(_speedups.encode_response_head_prefix, 200, smuggled) == outcome(pure_encode, 200, smuggled)
    assert outcome(pure_encode, 200, smuggled)[0] == "raise"
    clean_text = [("x-a", "1"), ("x-b", "2")]
    prefix = _speedups.encode_response_head_text(200, clean_text)
    assert _speedups.encode_response_head_text(200, clean_text) is prefix
    smuggled_text = [("x-a", "1\0x-b\x002")]
    assert outcome(_speedups.encode_response_head_text, 200, smuggled_text) == outcome(pure_encode_text, 200, smuggled_text)
    assert outcome(pure_encode_text, 200, smuggled_text)[0] == "raise"


def test_bind_refuses_a_frame_type_past_one_byte():
    with pytest.raises(ValueError):
        _speedups.bind(ProtocolError, [256], MAX_PAYLOAD, *PURE, protocol._HEADS, protocol._TEXT_HEADS,
                       protocol._STATUS_BYTES, protocol._STATUS_TEXT)


def test_nothing_leaks_on_the_hot_path_or_its_errors():
    good = encode_frame(REQUEST, 1, 3, HEADS[0]) * 25
    bad = HEADER.pack(MAX_PAYLOAD + 1, REQUEST, 0, 0, 1)
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"1024")]
    text = [("content-type", "text/plain"), ("content-length", "1024")]

    def round_():
        for ftype, _flags, _stream, payload in _speedups.parse_frames(good)[0]:
            _speedups.decode_request_head(payload)
        _speedups.encode_response_head_prefix(200, headers)
        _speedups.encode_response_head_text(200, text)
        for fn, arg in ((_speedups.parse_frames, bad), (_speedups.decode_request_head, HEADS[9]), (_speedups.decode_request_head, b"")):
            try:
                fn(arg)
            except ProtocolError:
                pass

    for _ in range(1000):
        round_()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20000):
            round_()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes still allocated after 20000 rounds"


# WSGI (interfaces/wsgi.py): the environ's headers, and the probe of its head cache


def wsgi_headers(rng):
    names = [b"host", b"content-type", b"content-length", b"cookie", b"x-a", b"x-a", b"x_a", b"user-agent",
             b"x-caf\xe9", b"X-Upper", b"x-" + b"n" * 300, b"", b"-", b"0", b"abcdefghijklmnopqrstuvwxyz-0123456789.~!"]
    values = [b"", b"v", b"a=1", b"caf\xe9", b"  spaced  ", b"x" * 50]
    pairs = [(rng.choice(names), rng.choice(values)) for _ in range(rng.choice([0, 1, 3, 10]))]
    roll = rng.random()
    if roll < 0.05:
        return tuple(pairs)
    if roll < 0.1 and pairs:
        pairs[-1] = [*pairs[-1]]  # a list pair, last: the C path must not apply the ones before it
    if roll < 0.13 and pairs:
        pairs[0] = (pairs[0][0], bytearray(pairs[0][1]))
    return pairs


def test_wsgi_environ_headers_apply_alike():
    from granian_ts.interfaces import wsgi

    assert wsgi.apply_headers is _speedups.wsgi_apply_headers
    keys = wsgi._HEADER_KEYS  # shared by both: each call starts from the same cache, and leaves the same
    seed = dict(keys)
    rng = random.Random(8)
    try:
        for _ in range(5000):
            headers = wsgi_headers(rng)
            base = {"REQUEST_METHOD": "GET", "HTTP_X_A": "pre"} if rng.random() < 0.2 else {"REQUEST_METHOD": "GET"}
            got, want = dict(base), dict(base)
            keys.clear(), keys.update(seed)
            got_outcome, got_keys = outcome(_speedups.wsgi_apply_headers, got, headers), dict(keys)
            keys.clear(), keys.update(seed)
            assert got_outcome == outcome(wsgi._apply_headers, want, headers)
            assert got == want, headers
            assert got_keys == keys, headers
    finally:
        keys.clear(), keys.update(seed)


def test_a_header_name_with_an_underscore_never_reaches_the_environ():
    from granian_ts.interfaces import wsgi

    environ = {}
    _speedups.wsgi_apply_headers(environ, [(b"x_forwarded_for", b"forged"), (b"x-forwarded-for", b"1.2.3.4")] * 2)
    assert environ == {"HTTP_X_FORWARDED_FOR": "1.2.3.4,1.2.3.4"}
    assert b"x_forwarded_for" not in wsgi._HEADER_KEYS


def test_wsgi_head_probe_finds_what_the_encoder_would():
    from granian_ts.interfaces import wsgi

    assert wsgi._cached_text_head is _speedups.cached_text_head
    rng = random.Random(9)
    statuses = ["200 OK", "404 Not Found", "500 x", "200", "99 no", "600 x", "2000", 200]
    for _ in range(3000):
        status = rng.choice(statuses)
        headers = text_of(response_headers(rng))
        items = list(headers) if isinstance(headers, type(iter([]))) else None
        again = (lambda: iter(items)) if items is not None else (lambda: headers)
        with_probe = [outcome(wsgi.encode_wsgi_head, status, again()) for _ in range(2)]
        wsgi._cached_text_head = None
        try:
            without = [outcome(wsgi.encode_wsgi_head, status, again()) for _ in range(2)]
        finally:
            wsgi._cached_text_head = _speedups.cached_text_head
        # An iterator's repr in a message names its address, which is not the point.
        same = [tuple(re.sub(r"0x[0-9a-f]+", "0x", x) if isinstance(x, str) else x for x in o) for o in with_probe]
        assert same == [tuple(re.sub(r"0x[0-9a-f]+", "0x", x) if isinstance(x, str) else x for x in o) for o in without], (status, headers)


def test_the_head_probe_misses_a_head_that_smuggles_nuls():
    cache = {"200\0x-a\0" + "1": b"prefix"}
    assert _speedups.cached_text_head(cache, "200", [("x-a", "1")]) == b"prefix"
    assert _speedups.cached_text_head(cache, "200", (("x-a", "1"),)) == b"prefix"
    # Fields that join into the cached key only by holding a NUL themselves.
    assert _speedups.cached_text_head(cache, "200\0x-a\0" "1", []) is None
    assert _speedups.cached_text_head(cache, "200", [("x-a", "1\0")]) is None
    assert _speedups.cached_text_head(cache, "200", iter([("x-a", "1")])) is None  # not a list: the encoder's
    assert _speedups.cached_text_head(cache, "200", [["x-a", "1"]]) is None


# send_now: socket.send with MSG_DONTWAIT, without giving up the GIL (interfaces/_wsgi_link.py)


def test_send_now_sends_what_the_socket_takes_and_never_waits():
    import socket

    a, b = socket.socketpair()
    try:
        assert _speedups.send_now(a.fileno(), b"hello") == 5
        assert b.recv(16) == b"hello"
        big = bytes(range(256)) * 4096  # 1 MiB: more than a socket pair holds
        sent = _speedups.send_now(a.fileno(), big)
        assert 0 < sent < len(big)
        assert _speedups.send_now(a.fileno(), big) == 0  # full: 0 at once, not a wait
        b.setblocking(False)
        got = b""
        while len(got) < sent:
            got += b.recv(1 << 20)
        assert got == big[:sent]
    finally:
        a.close()
        b.close()


def test_send_now_raises_what_send_raises():
    import socket

    a, b = socket.socketpair()
    b.close()
    try:
        with pytest.raises(BrokenPipeError):
            _speedups.send_now(a.fileno(), b"x")
    finally:
        a.close()
    with pytest.raises(OSError) as err:
        _speedups.send_now(1 << 20, b"x")  # no such descriptor
    assert err.value.errno == errno.EBADF
    with pytest.raises(TypeError):
        _speedups.send_now(0, bytearray(b"x"))
    with pytest.raises(TypeError):
        _speedups.send_now(0)

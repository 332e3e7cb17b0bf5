"""The frame codec against the golden bytes shared with the TypeScript side."""

import random

import pytest

from granian_ts.protocol import (
    FLAG_END,
    HEADER,
    MAX_PAYLOAD,
    REQUEST,
    REQUEST_BODY,
    RESPONSE,
    RESPONSE_FILE,
    FrameDecoder,
    ProtocolError,
    decode_request_fields,
    decode_close,
    decode_request_head,
    encode_close,
    encode_file_target,
    encode_frame,
    encode_response_head,
    encode_response_head_text,
)
from fakes import decode_response_head, encode_request_head


def fields_of(frame):
    return (frame["type"], frame["flags"], frame["stream"], bytes.fromhex(frame["payload_hex"]))


def golden_stream(golden_frames):
    return b"".join(bytes.fromhex(f["hex"]) for f in golden_frames)


def test_every_golden_frame_decodes_to_its_fields(golden_frames):
    for frame in golden_frames:
        assert FrameDecoder().feed(bytes.fromhex(frame["hex"])) == [fields_of(frame)], frame["name"]


def test_every_golden_frame_encodes_to_its_bytes(golden_frames):
    for frame in golden_frames:
        assert encode_frame(*fields_of(frame)).hex() == frame["hex"], frame["name"]


def test_golden_stream_fed_byte_by_byte(golden_frames):
    decoder = FrameDecoder()
    frames = []
    for byte in golden_stream(golden_frames):
        frames += decoder.feed(bytes([byte]))
    assert frames == [fields_of(f) for f in golden_frames]


@pytest.mark.parametrize("seed", range(20))
def test_golden_stream_fed_in_random_splits(golden_frames, seed):
    data = golden_stream(golden_frames)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 30)))
    decoder = FrameDecoder()
    frames = []
    for start, stop in zip([0] + cuts, cuts + [len(data)]):
        frames += decoder.feed(data[start:stop])
    assert frames == [fields_of(f) for f in golden_frames]


def test_a_large_payload_arriving_in_pieces_is_whole_once():
    payload = bytes(range(256)) * 4096  # 1 MiB
    data = encode_frame(0x02, 1, 9, payload)
    pieces = [data[offset : offset + 65536] for offset in range(0, len(data), 65536)]
    decoder = FrameDecoder()
    for piece in pieces[:-1]:
        assert decoder.feed(piece) == []
    assert decoder.feed(pieces[-1]) == [(0x02, 1, 9, payload)]


def test_frames_after_a_pending_one_in_the_same_read_come_whole():
    # What Bun's writes look like to the worker: every read ends inside a frame, and the next
    # completes it and carries more. Sizes around the header's make every cut point occur.
    rng = random.Random(7)
    frames = [
        (REQUEST_BODY, i % 2, i + 1, bytes([i % 256]) * rng.choice([0, 1, 11, 12, 13, 4096, 10240]))
        for i in range(300)
    ]
    data = b"".join(encode_frame(*f) for f in frames)
    decoder = FrameDecoder()
    out = []
    for offset in range(0, len(data), 65521):  # a prime: no read is aligned to a frame
        out += decoder.feed(data[offset : offset + 65521])
    assert out == frames
    assert all(type(payload) is bytes for *_, payload in out)


def test_a_bad_header_completed_by_a_later_read_is_refused_at_once():
    decoder = FrameDecoder()
    bad = HEADER.pack(MAX_PAYLOAD + 1, REQUEST, 0, 0, 1)
    assert decoder.feed(encode_frame(REQUEST, 0, 1, b"abc") + bad[:5]) == [(REQUEST, 0, 1, b"abc")]
    with pytest.raises(ProtocolError, match="MAX_PAYLOAD"):
        decoder.feed(bad[5:])


def test_truncated_frame_yields_nothing_yet(golden_frames):
    data = bytes.fromhex(golden_frames[0]["hex"])
    decoder = FrameDecoder()
    assert decoder.feed(data[:5]) == []
    assert decoder.feed(data[5:-1]) == []
    assert decoder.feed(data[-1:]) == [fields_of(golden_frames[0])]


def test_oversized_length_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="MAX_PAYLOAD"):
        FrameDecoder().feed(HEADER.pack(MAX_PAYLOAD + 1, REQUEST, 0, 0, 1))


def test_max_payload_itself_is_accepted():
    assert FrameDecoder().feed(HEADER.pack(MAX_PAYLOAD, REQUEST, 0, 0, 1)) == []


def test_unknown_type_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="0x7f"):
        FrameDecoder().feed(HEADER.pack(0, 0x7F, 0, 0, 1))


def test_request_head_golden(golden_frames):
    frame = next(f for f in golden_frames if f["name"] == "request_no_body")
    assert decode_request_head(bytes.fromhex(frame["payload_hex"])) == (
        "GET",
        "http",
        "1.1",
        "127.0.0.1",
        50000,
        b"/items/%C3%A9",
        b"q=1&r=%20",
        [(b"host", b"example.com"), (b"x-latin", b"caf\xe9")],
    )


def test_request_head_without_headers_or_query():
    head = encode_request_head(path="/", query="")
    assert decode_request_head(head)[5:] == (b"/", b"", [])


def test_request_head_with_wrong_field_count_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        decode_request_head(b"GET\0http")
    with pytest.raises(ProtocolError):
        decode_request_head(encode_request_head() + b"\0lonely-name")


def test_response_head_golden(golden_frames):
    frame = next(f for f in golden_frames if f["name"] == "response_with_body_end")
    headers = [(b"content-type", b"text/plain"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]
    assert encode_response_head(200, headers, b"hello").hex() == frame["payload_hex"]
    assert frame["type"] == RESPONSE


def test_latin1_header_values_round_trip():
    every_byte = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
    head = encode_request_head(headers=[("x-raw", every_byte.decode("latin-1"))])
    assert decode_request_head(head)[7] == [(b"x-raw", every_byte)]

    payload = encode_response_head(200, [(b"x-raw", every_byte)], b"\xff body")
    assert decode_response_head(payload) == (200, [(b"x-raw", every_byte)], b"\xff body")
    assert b"\xc3\xa9" in payload  # é travels as UTF-8


@pytest.mark.parametrize("bad", [b"a\rb", b"a\nb", b"a\0b"])
def test_response_head_rejects_separators_and_line_breaks(bad):
    with pytest.raises(ValueError, match="NUL, CR or LF"):
        encode_response_head(200, [(b"x-bad", bad)])
    with pytest.raises(ValueError, match="not an HTTP token"):
        encode_response_head(200, [(bad, b"ok")])


# What Bun's `Headers` refuse as a name (it throws on each of them while building the Response).
NOT_TOKENS = ["bad name", "a:b", "", "a\tb", "a@b", "a/b", "a(b", "{", 'a"b', "caf\u00e9", "a\x7fb", "a,b", "a;b"]


@pytest.mark.parametrize("name", NOT_TOKENS)
def test_response_head_names_must_be_http_tokens(name):
    with pytest.raises(ValueError, match="invalid response header name"):
        encode_response_head(200, [(b"x-ok", b"1"), (name.encode("latin-1"), b"v")])
    with pytest.raises(ValueError, match="invalid response header name"):
        encode_response_head_text(200, [("x-ok", "1"), (name, "v")])


def test_response_head_takes_every_token_and_every_value_bun_takes():
    token = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    value = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
    assert decode_response_head(encode_response_head(200, [(token.encode(), value)])) == (200, [(token.encode(), value)], b"")
    encode_response_head_text(200, [(token, value.decode("latin-1") + "\u20ac")])
    # Every other control character is refused, as hyper (Granian) and h11 (httpx) refuse it.
    for control in [*range(0, 9), *range(10, 32), 0x7F]:
        with pytest.raises(ValueError, match="NUL, CR or LF|control character"):
            encode_response_head(200, [(b"x-a", b"a" + bytes([control]))])
        with pytest.raises(ValueError, match="NUL, CR or LF|control character"):
            encode_response_head_text(200, [("x-a", "a" + chr(control))])
    # A value holding NUL-separated fields must not pass for extra pairs.
    with pytest.raises(ValueError, match="contains NUL"):
        encode_response_head(200, [(b"x-a", b"1\0x-b\0 2")])


def test_response_head_rejects_text_headers():
    with pytest.raises(TypeError, match="must be bytes"):
        encode_response_head(200, [("content-type", "text/plain")])


def test_golden_file_is_what_the_generator_writes():
    # tests/golden/generate.py is the source of the golden bytes; the committed file must match.
    import importlib.util
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "golden"
    spec = importlib.util.spec_from_file_location("golden_generate", here / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert generate.render() == (here / "frames.json").read_text()


def test_response_file_golden(golden_frames):
    whole = next(f for f in golden_frames if f["name"] == "response_file")
    payload = bytes.fromhex(whole["payload_hex"])
    assert whole["type"] == RESPONSE_FILE and whole["flags"] == FLAG_END
    assert decode_response_head(payload) == (200, [(b"content-type", b"text/plain")], "/srv/static/caf\u00e9.txt".encode())
    ranged = next(f for f in golden_frames if f["name"] == "response_file_range")
    status, headers, tail = decode_response_head(bytes.fromhex(ranged["payload_hex"]))
    assert (status, headers, tail) == (206, [(b"content-range", b"bytes 2-4/20")], b"/srv/data.bin\x002\x005")


def test_file_target_encoding():
    assert encode_file_target("/a b/\u00e9") == "/a b/\u00e9".encode()
    assert encode_file_target("/f", 0, 10) == b"/f\x000\x0010"
    with pytest.raises(ValueError, match="NUL"):
        encode_file_target("/a\0b")


def test_request_fields_as_text(golden_frames):
    frame = next(f for f in golden_frames if f["name"] == "request_no_body")
    fields = decode_request_fields(bytes.fromhex(frame["payload_hex"]))
    assert fields == ["GET", "http", "1.1", "127.0.0.1", "50000", "/items/%C3%A9", "q=1&r=%20",
                      "host", "example.com", "x-latin", "caf\u00e9"]
    with pytest.raises(ProtocolError):
        decode_request_fields(b"GET\0http")
    with pytest.raises(ProtocolError):
        decode_request_fields(b"\xff" + encode_request_head())


def test_text_response_head_matches_the_bytes_one_for_ascii_and_is_utf8_on_the_wire_otherwise():
    headers = [("content-type", "text/plain"), ("set-cookie", "a=1")]
    assert encode_response_head_text(200, headers) == encode_response_head(
        200, [(n.encode(), v.encode()) for n, v in headers]
    )
    status, decoded, _ = decode_response_head(encode_response_head_text(201, [("x-a", "caf\u00e9 \u20ac")]))
    assert (status, decoded) == (201, [(b"x-a", "caf\u00e9 \u20ac".encode("utf-8"))])
    with pytest.raises(ValueError, match="NUL, CR or LF"):
        encode_response_head_text(200, [("x-a", "1\r\nx-b: 2")])
    with pytest.raises(TypeError, match="must be str"):
        encode_response_head_text(200, [(b"x-a", b"1")])


def test_ws_close_payload_round_trips_code_and_utf8_reason(golden_frames):
    frame = next(f for f in golden_frames if f["name"] == "ws_end")
    assert decode_close(bytes.fromhex(frame["payload_hex"])) == (4000, "bye \u00e9")
    assert encode_close(4000, "bye \u00e9").hex() == frame["payload_hex"]
    with pytest.raises(ProtocolError):
        decode_close(b"\x01")


def test_cached_heads_are_checked_like_new_ones_and_the_cache_stays_bounded():
    from granian_ts import protocol
    from granian_ts.interfaces.wsgi import encode_wsgi_head

    clean = [(b"x-a", b"1"), (b"x-b", b"2")]
    first = encode_response_head(200, clean)
    assert encode_response_head(200, clean) == first  # from the cache now
    # The same joined bytes from fields that smuggle NULs must still be refused after a hit.
    with pytest.raises(ValueError, match="contains NUL"):
        encode_response_head(200, [(b"x-a", b"1\x00x-b\x002")])
    text = [("x-a", "1"), ("x-b", "2")]
    encode_response_head_text(200, text)
    with pytest.raises(ValueError, match="NUL"):
        encode_response_head_text(200, [("x-a", "1\x00x-b\x002")])
    encode_wsgi_head("200 OK", text)
    with pytest.raises(ValueError, match="NUL"):
        encode_wsgi_head("200 OK", [("x-a", "1\x00x-b\x002")])
    # One text head, two encodings: RSGI puts text on the wire as UTF-8, WSGI as latin-1.
    latin = [("x-l", "caf\u00e9")]
    rsgi, wsgi = encode_response_head_text(200, latin), encode_wsgi_head("200 OK", latin)
    assert decode_response_head(rsgi)[1] == [(b"x-l", "caf\u00e9".encode("utf-8"))]
    assert decode_response_head(wsgi)[1] == [(b"x-l", b"caf\xe9")]
    assert encode_response_head_text(200, latin) == rsgi and encode_wsgi_head("200 OK", latin) == wsgi
    # Heads that never repeat never hold more than the cache's bound.
    for n in range(protocol.HeadCache.MAX * 3):
        encode_response_head(200, [(b"set-cookie", b"s=%d" % n)])
    assert len(protocol._HEADS) <= protocol.HeadCache.MAX

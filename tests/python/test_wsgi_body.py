"""WSGI bodies: wsgi.input fed chunk by chunk (REQUEST_ACK), responses within the window (RESPONSE_ACK)."""

import threading

from fakes import encode_request_head
from granian_ts.protocol import (
    FLAG_END,
    MAX_CHUNK,
    REQUEST,
    REQUEST_ACK,
    REQUEST_BODY,
    RESPONSE,
    RESPONSE_ABORT,
    RESPONSE_ACK,
    RESPONSE_BODY,
    U32,
    WINDOW,
)
from wsgi_fakes import body_reader_app, disconnect, serve_wsgi  # noqa: F401 (fixture)


def acks(bun, stream=1):
    return [U32.unpack(f[3])[0] for f in bun.of(stream, REQUEST_ACK)]


def shape(response):
    """(type, flags, body bytes) of each response frame."""
    out = []
    for ftype, flags, _, payload in response.frames:
        size = len(payload) - (4 + U32.unpack_from(payload)[0] if ftype == RESPONSE else 0)
        out.append((ftype, flags, size))
    return out


def body_bytes(bun, stream=1):
    """Response body bytes written so far."""
    total = 0
    for ftype, _, _, payload in bun.of(stream):
        if ftype == RESPONSE:
            total += len(payload) - 4 - U32.unpack_from(payload)[0]
        elif ftype == RESPONSE_BODY:
            total += len(payload)
    return total


def reader(read):
    """An app that answers with what `read(wsgi.input)` returns, repr'd."""

    def app(environ, start_response):
        result = read(environ["wsgi.input"])
        start_response("200 OK", [])
        return [repr(result).encode()]

    return app


async def post(bun, *chunks, stream=1):
    bun.send(REQUEST, stream, encode_request_head(method="POST"))
    for i, chunk in enumerate(chunks):
        bun.send(REQUEST_BODY, stream, chunk, end=i == len(chunks) - 1)
    return await bun.response(stream)


# Request bodies


async def test_read_all_of_a_body_in_several_chunks(serve_wsgi):
    bun = await serve_wsgi(reader(lambda f: f.read()))
    assert (await post(bun, b"ab", b"cd", b"ef")).body == b"b'abcdef'"


async def test_read_of_a_request_without_body_is_empty(serve_wsgi):
    bun = await serve_wsgi(reader(lambda f: (f.read(), f.read(10), f.readline(), list(f))))
    bun.request()
    assert (await bun.response()).body == b"(b'', b'', b'', [])"


async def test_read_n_spans_chunks_and_blocks_for_the_rest(serve_wsgi):
    bun = await serve_wsgi(reader(lambda f: [f.read(3), f.read(0), f.read(4), f.read(100), f.read(1)]))
    assert (await post(bun, b"ab", b"cdef", b"ghij")).body == b"[b'abc', b'', b'defg', b'hij', b'']"


async def test_readline_iteration_and_readlines(serve_wsgi):
    body = (b"one\ntw", b"o\n\nthree\nlast")
    bun = await serve_wsgi(reader(lambda f: list(f)))
    assert (await post(bun, *body)).body == repr([b"one\n", b"two\n", b"\n", b"three\n", b"last"]).encode()
    bun = await serve_wsgi(reader(lambda f: f.readlines()))
    assert (await post(bun, *body)).body == repr([b"one\n", b"two\n", b"\n", b"three\n", b"last"]).encode()
    bun = await serve_wsgi(reader(lambda f: f.readlines(5)))
    assert (await post(bun, *body)).body == repr([b"one\n", b"two\n"]).encode()


async def test_readline_with_a_limit(serve_wsgi):
    bun = await serve_wsgi(reader(lambda f: [f.readline(2), f.readline(2), f.readline(10), f.readline(), f.read()]))
    assert (await post(bun, b"abc", b"d\nef", b"\nrest")).body == repr([b"ab", b"cd", b"\n", b"ef\n", b"rest"]).encode()


async def test_acks_pace_the_body_as_the_app_reads(serve_wsgi):
    step = threading.Event()
    took = []

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        while True:
            step.wait(2)
            step.clear()
            block = stream.read(4)
            took.append(block)
            if not block:
                break
        start_response("200 OK", [])
        return [b"".join(took)]

    bun = await serve_wsgi(app)
    bun.send(REQUEST, 1, encode_request_head(method="POST"))
    bun.send(REQUEST_BODY, 1, b"aaaa")
    bun.send(REQUEST_BODY, 1, b"bbbb")
    await bun.settle()
    assert acks(bun) == []  # nothing taken yet: Bun's window stays full
    step.set()
    await bun.until(lambda: took == [b"aaaa"])
    await bun.until(lambda: acks(bun) == [4])
    step.set()
    await bun.until(lambda: len(took) == 2)
    await bun.until(lambda: acks(bun) == [4, 4])
    bun.send(REQUEST_BODY, 1, b"cccc", end=True)
    step.set()
    await bun.until(lambda: len(took) == 3)
    step.set()
    assert (await bun.response()).body == b"aaaabbbbcccc"
    assert acks(bun) == [4, 4]  # once the body ended, acks would pace nothing


async def test_a_read_waiting_for_body_fails_when_the_client_leaves(serve_wsgi):
    errors: list = []
    bun = await serve_wsgi(body_reader_app(errors))
    bun.send(REQUEST, 1, encode_request_head(method="POST"))
    bun.send(REQUEST_BODY, 1, b"part")
    await bun.settle()
    await disconnect(bun, 1)
    await bun.until(lambda: errors)
    await bun.settle()
    assert "disconnected" in str(errors[0])
    assert bun.of(1, RESPONSE) == []


# Responses


async def test_a_list_is_one_response_frame_with_end(serve_wsgi):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"abc", b"def", b"ghi"]

    bun = await serve_wsgi(app)
    bun.request()
    response = await bun.response()
    assert response.status == 200
    assert response.headers == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"9")]
    assert response.body == b"abcdefghi"
    assert shape(response) == [(RESPONSE, FLAG_END, 9)]


async def test_a_one_chunk_iterable(serve_wsgi):
    class Body:
        def __iter__(self):
            yield b"only"

    def app(environ, start_response):
        start_response("201 Created", [])
        return Body()

    bun = await serve_wsgi(app)
    bun.request()
    response = await bun.response()
    assert (response.status, response.body) == (201, b"only")
    # One frame when the end reaches the loop in the tick the first chunk did (see below),
    # which is nearly always; two if the app thread was preempted in between.
    assert shape(response) in ([(RESPONSE, FLAG_END, 4)], [(RESPONSE, 0, 4), (RESPONSE_BODY, FLAG_END, 0)])


async def test_an_iterable_whose_first_item_is_the_declared_length_is_one_frame(serve_wsgi):
    # Django's and Flask's responses: an iterable (not a list) with Content-Length set.
    closed = []

    class Body:
        def __iter__(self):
            yield b"hello"
            yield b" beyond the declared length"

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "5")])
        return Body()

    bun = await serve_wsgi(app)
    bun.request()
    response = await bun.response()
    assert shape(response) == [(RESPONSE, FLAG_END, 5)] and response.body == b"hello"
    await bun.until(lambda: closed)  # close() runs all the same


async def test_start_response_called_from_the_first_iteration_still_gets_one_frame(serve_wsgi):
    def app(environ, start_response):
        start_response("200 OK", [("content-length", "2")])
        yield b"ok"

    bun = await serve_wsgi(app)
    bun.request()
    assert shape(await bun.response()) == [(RESPONSE, FLAG_END, 2)]


async def test_a_generator_streams_each_chunk_as_it_comes(serve_wsgi):
    go = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"first"
        go.wait(2)
        yield b""  # empty chunks carry nothing
        yield b"second"

    bun = await serve_wsgi(app)
    bun.request()
    await bun.until(lambda: bun.of(1, RESPONSE))
    assert bun.of(1, RESPONSE)[0][1] == 0  # not the end: the head and the first chunk left alone
    go.set()
    response = await bun.response()
    assert response.body == b"firstsecond"
    assert shape(response) == [(RESPONSE, 0, 5), (RESPONSE_BODY, 0, 6), (RESPONSE_BODY, FLAG_END, 0)]


async def test_headers_wait_for_the_first_non_empty_chunk(serve_wsgi):
    # PEP 3333: the head may not go out before there is body (or the iterable is done), so an
    # app that fails before its first chunk still gets a 500.
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b""
        raise RuntimeError("failed before any body")

    bun = await serve_wsgi(app)
    bun.request()
    response = await bun.response()
    assert response.status == 500 and response.aborted is None


async def test_write_callable_and_iterable_combined(serve_wsgi):
    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"one-")
        write(memoryview(b"two-"))
        return iter([b"three"])

    bun = await serve_wsgi(app)
    bun.request()
    assert (await bun.response()).body == b"one-two-three"


async def test_large_list_body_is_split_into_chunks(serve_wsgi):
    body = bytes(range(256)) * (MAX_CHUNK * 5 // 2 // 256)  # 2.5 MiB

    def app(environ, start_response):
        start_response("200 OK", [])
        return [body]

    bun = await serve_wsgi(app)
    bun.request()
    await bun.until(lambda: bun.of(1, RESPONSE))
    await bun.settle()
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    await bun.until(lambda: bun.of(1, RESPONSE_BODY))
    bun.send(RESPONSE_ACK, 1, U32.pack(MAX_CHUNK))
    response = await bun.response()
    assert response.body == body
    assert [s[2] for s in shape(response) if s[2]] == [MAX_CHUNK, MAX_CHUNK, len(body) - 2 * MAX_CHUNK]


async def test_the_app_thread_waits_while_a_window_is_unacknowledged(serve_wsgi):
    produced = []
    block = b"g" * (256 * 1024)

    def app(environ, start_response):
        start_response("200 OK", [])
        for i in range(12):  # 3 MiB
            produced.append(i)
            yield block

    bun = await serve_wsgi(app)
    bun.request()
    await bun.until(lambda: len(produced) == 5)
    await bun.settle(200)
    # 4 blocks fill the window; the 5th waits in the app thread for acks, the 6th is not produced.
    assert len(produced) == 5
    assert body_bytes(bun) == WINDOW
    bun.send(RESPONSE_ACK, 1, U32.pack(len(block)))
    await bun.until(lambda: body_bytes(bun) == WINDOW + len(block))
    await bun.settle(100)
    assert len(produced) == 6 and body_bytes(bun) == WINDOW + len(block)
    for _ in range(7):
        bun.send(RESPONSE_ACK, 1, U32.pack(len(block)))
    response = await bun.response()
    assert response.body == block * 12


async def test_disconnect_stops_the_iteration_and_close_is_called(serve_wsgi):
    events = []

    class Endless:
        def __iter__(self):
            i = 0
            while True:
                i += 1
                events.append("chunk")
                yield b"x" * 1024

        def close(self):
            events.append("closed")

    def app(environ, start_response):
        start_response("200 OK", [])
        return Endless()

    bun = await serve_wsgi(app)
    bun.request()
    await bun.until(lambda: events.count("chunk") > 1024)  # blocked on the window now
    await disconnect(bun, 1)
    await bun.until(lambda: "closed" in events)
    count = events.count("chunk")
    await bun.settle(100)
    assert events.count("chunk") == count and events[-1] == "closed"
    assert bun.of(1, RESPONSE_ABORT) == []


async def test_write_after_disconnect_raises(serve_wsgi):
    outcome = []
    gone = threading.Event()

    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"first")
        gone.wait(2)
        try:
            write(b"second")
        except OSError as exc:
            outcome.append(exc)
            raise
        return []

    bun = await serve_wsgi(app)
    bun.request()
    await bun.until(lambda: bun.of(1, RESPONSE))
    await disconnect(bun, 1)
    gone.set()
    await bun.until(lambda: outcome)
    assert isinstance(outcome[0], OSError)


async def test_file_wrapper_iterates_the_file_and_closes_it(serve_wsgi, tmp_path):
    data = bytes(range(256)) * 1000
    (tmp_path / "f.bin").write_bytes(data)
    files = []

    def app(environ, start_response):
        f = open(tmp_path / "f.bin", "rb")
        files.append(f)
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return environ["wsgi.file_wrapper"](f, 4096)

    bun = await serve_wsgi(app)
    bun.request()
    response = await bun.response()
    assert response.body == data
    await bun.until(lambda: files[0].closed)
    # read in blocks much larger than the 4 KiB asked for: each block is a frame
    assert len(response.frames) <= 4


async def test_a_small_body_is_awaited_before_the_app_starts(serve_wsgi):
    # Bun reads a body of known size up to 64 KiB whole and sends it in one frame: the app's
    # thread starts once it is there instead of blocking for it.
    started = []

    def app(environ, start_response):
        started.append(True)
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [body]

    bun = await serve_wsgi(app)
    bun.send(REQUEST, 1, encode_request_head(method="POST", headers=[("content-length", "5")]))
    await bun.settle(50)
    assert started == []
    bun.send(REQUEST_BODY, 1, b"small", end=True)
    assert (await bun.response()).body == b"small"
    # larger or chunked bodies stream: the app starts at once and reads as they come
    for stream, headers in [(2, [("content-length", str(10 * 1024 * 1024))]), (3, [("transfer-encoding", "chunked")])]:
        bun.send(REQUEST, stream, encode_request_head(method="POST", headers=headers))
        await bun.until(lambda: len(started) == stream)
        bun.send(REQUEST_BODY, stream, b"x" * 10, end=True)
        assert (await bun.response(stream)).body == b"x" * 10


async def test_a_client_gone_before_its_small_body_never_reaches_the_app(serve_wsgi):
    started = []

    def app(environ, start_response):
        started.append(True)
        start_response("200 OK", [])
        return [b""]

    bun = await serve_wsgi(app)
    bun.send(REQUEST, 1, encode_request_head(method="POST", headers=[("content-length", "5")]))
    await disconnect(bun, 1)
    await bun.settle(50)
    assert started == [] and bun.of(1) == []

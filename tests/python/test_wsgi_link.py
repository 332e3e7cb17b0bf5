"""WSGI connections served by the app threads (`_wsgi_link.Link`): the hand-over from the event
loop, several connections sharing --blocking-threads, the ends of a connection, and requests that
wait spread over the threads where those that compute are not."""

import asyncio
import threading
import time

from fakes import FakeBun, encode_request_head
from granian_ts.protocol import FLAG_END, HEADER, REQUEST, REQUEST_BODY, RESPONSE, encode_frame
from wsgi_fakes import body_reader_app, gated_app, serve_wsgi  # noqa: F401 (fixture)


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Length", str(len(body) + len(environ["PATH_INFO"])))])
    return [environ["PATH_INFO"].encode() + body]


async def test_frames_read_with_the_first_request_are_served_after_the_hand_over(serve_wsgi):
    bun = await serve_wsgi(echo_app)
    # One read from Bun: two requests, the second with a body, and the body after both heads.
    bun.conn.data_received(
        encode_frame(REQUEST, FLAG_END, 1, encode_request_head(path="/one"))
        + encode_frame(REQUEST, 0, 2, encode_request_head(method="POST", path="/two", headers=[("content-length", "4")]))
        + encode_frame(REQUEST_BODY, FLAG_END, 2, b"body")
    )
    assert bun.handed_over and bun.transport.closed  # the event loop is done with it
    assert (await bun.response(1)).body == b"/one"
    assert (await bun.response(2)).body == b"/twobody"
    bun.request(stream=3, path="/three")  # later frames cross the socket
    assert (await bun.response(3)).body == b"/three"


async def test_connections_share_the_blocking_threads_and_none_starves(serve_wsgi):
    # One app thread for two connections: the second's request waits for the slot the first
    # holds, and runs once it is free, with no new frame from its own connection to wake it.
    gate = threading.Event()
    app = gated_app(gate)

    first = await serve_wsgi(app, blocking_threads=1)
    second = FakeBun(first.host.interface)
    try:
        first.request(path="/block")
        await first.until(lambda: first.host.interface.free_slots == 0)
        second.request(path="/waits")
        await second.settle(50)
        assert second.of(1, RESPONSE) == []
        gate.set()
        assert (await first.response()).body == b"/block"
        assert (await second.response()).body == b"/waits"
    finally:
        gate.set()
        second.close()


async def test_bun_going_away_fails_a_body_read_and_the_link_is_forgotten(serve_wsgi):
    outcome: list = []
    reading = threading.Event()
    app = body_reader_app(outcome, reading)

    bun = await serve_wsgi(app)
    # No content-length: the body streams, and the app waits in read() for it.
    bun.send(REQUEST, 1, encode_request_head(method="POST"))
    await bun.until(reading.is_set)
    bun.close()
    await bun.until(lambda: outcome)
    interface = bun.host.interface
    await bun.until(lambda: not interface._links)
    assert interface.pool.size == interface.config.blocking_threads  # the reader's thread given back


async def test_a_broken_frame_closes_the_link_and_the_others_keep_serving(serve_wsgi, caplog):
    bun = await serve_wsgi(echo_app)
    other = FakeBun(bun.host.interface)
    try:
        bun.request(path="/first")
        assert (await bun.response()).body == b"/first"
        bun.send_raw(HEADER.pack(0, 0x7F, 0, 0, 9))  # a frame type Bun never sends
        await bun.until(lambda: len(bun.host.interface._links) == 0)
        assert "protocol error" in caplog.text
        other.request(path="/other")
        assert (await other.response()).body == b"/other"
    finally:
        other.close()


class _InApp:
    """A WSGI app that waits or computes for a while, counting the requests inside it at once."""

    def __init__(self, wait: float = 0.0, compute: float = 0.0) -> None:
        self.wait, self.compute = wait, compute
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __call__(self, environ, start_response):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        if self.wait:
            time.sleep(self.wait)
        end = time.thread_time() + self.compute
        while time.thread_time() < end:
            pass
        with self.lock:
            self.now -= 1
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]


async def _serve_all(bun, first, count):
    """Requests `first`..`first + count - 1` sent back to back; waits for every response, polling
    gently (a loop that never sleeps would hold the GIL against the app threads)."""
    for stream in range(first, first + count):
        bun.request(stream=stream)
    deadline = time.monotonic() + 10
    while not all(bun.response_done(s) for s in range(first, first + count)):
        assert time.monotonic() < deadline, "responses missing"
        await asyncio.sleep(0.005)


async def test_requests_that_wait_are_spread_over_the_threads(serve_wsgi):
    # Run one after another by the thread that read them, a batch of requests that each wait
    # 1 ms would take 1 ms a request, and the monitor, looking for a thread stuck in the app,
    # would see one make progress every time; a few that waited are enough to spread the rest.
    app = _InApp(wait=0.001)
    bun = await serve_wsgi(app, blocking_threads=16)
    await _serve_all(bun, 1, 1)  # the hand-over
    await _serve_all(bun, 2, 32)
    (link,) = bun.host.interface._links
    assert link.spread_until > 0
    assert app.most >= 3


async def test_requests_that_only_compute_stay_on_the_thread_that_read_them(serve_wsgi):
    # Longer than SLOW_WAIT, but on the CPU: more threads would only pass the GIL around.
    app = _InApp(compute=0.0003)
    bun = await serve_wsgi(app, blocking_threads=16)
    await _serve_all(bun, 1, 1)
    await _serve_all(bun, 2, 32)
    (link,) = bun.host.interface._links
    assert link.spread_until == 0
    assert app.most == 1

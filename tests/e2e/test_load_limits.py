"""Load limits: the bounded wait queue (503 + Retry-After), stalled request bodies (408), slow
clients beside a normal one. The file-descriptor limit: test_fd_limits.py."""
import shutil
import socket
import statistics
import subprocess
import threading
import time

import httpx
import pytest

from _server import Server

APP = "supervised:app"


def _latencies(url, seconds):
    """A normal client on one keep-alive connection: its request latencies (s), and failures."""
    out, failures = [], []
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=10) as c:
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                r = c.get(url)
                if r.status_code != 200:
                    failures.append(r.status_code)
            except httpx.HTTPError as exc:
                failures.append(f"{repr(exc)} after {time.monotonic() - t0:.3f}s, at {seconds - (deadline - t0):.2f}s")
            out.append(time.monotonic() - t0)
            time.sleep(0.01)
    return out, failures


def _p99(xs):
    xs = sorted(xs)
    return xs[max(0, int(len(xs) * 0.99) - 1)]


def _stalled_upload(port, results):
    """Headers and 10 bytes of a 100-byte body, then silence; records the status line."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            data = s.recv(4096)
            results.append(data.split(b"\r\n", 1)[0].decode())
    except OSError as exc:
        results.append(repr(exc))


def test_stalled_uploads_get_408_and_hold_no_slot():
    # Fewer slots than stalled clients: without the body timeout (and reading small bodies
    # before taking a slot) the normal client would wait behind them.
    s = Server(APP, args=["--backpressure", "8", "--body-read-timeout", "2000"]).start()
    try:
        results = []
        stalled = [threading.Thread(target=_stalled_upload, args=(s.port, results)) for _ in range(50)]
        for t in stalled:
            t.start()
        times, failures = _latencies(s.url + "/", 3)
        for t in stalled:
            t.join(30)
        assert not failures, failures
        assert _p99(times) < 0.1, f"p99 {_p99(times) * 1000:.0f} ms"
        assert results.count("HTTP/1.1 408 Request Timeout") == 50, results
    finally:
        s.stop()


def test_a_stalled_streamed_upload_gets_408():
    # Larger than the small-body limit: the body streams to the app, which waits for the rest.
    s = Server(APP, args=["--body-read-timeout", "1000"]).start()
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=20) as c:
            c.sendall(b"POST /slow?s=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 70000)
            t0 = time.monotonic()
            status = c.recv(4096).split(b"\r\n", 1)[0]
            waited = time.monotonic() - t0
        # The app may have answered before reading its body (200); it must not hang.
        assert status in (b"HTTP/1.1 408 Request Timeout", b"HTTP/1.1 200 OK"), status
        assert waited < 10
        assert httpx.get(s.url + "/").status_code == 200
    finally:
        s.stop()


@pytest.mark.parametrize("mode", ["-B", "-H"])
def test_slowhttptest_beside_a_normal_client(mode):
    assert shutil.which("slowhttptest"), "slowhttptest is installed by scripts/test.sh"
    # Slow headers (-H, slowloris) never reach a worker slot; slow bodies (-B) are read before
    # they take one, and stop at the body timeout.
    s = Server(APP, args=["--body-read-timeout", "3000"]).start()
    try:
        attack = subprocess.Popen(
            ["slowhttptest", mode, "-c", "1100", "-r", "500", "-i", "10", "-s", "100", "-x", "10",
             "-t", "POST", "-l", "8", "-u", s.url + "/", "-p", "3"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.5)  # the connections are open and stalled
        times, failures = _latencies(s.url + "/", 4)
        attack.wait(60)
        assert not failures, failures
        assert _p99(times) < 0.1, f"p99 {_p99(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.1f} ms"
        assert s.proc.poll() is None
    finally:
        s.stop()


def test_a_flood_beyond_the_queue_gets_503_with_retry_after_and_memory_stays_flat():
    s = Server(APP, args=["--backpressure", "4", "--backpressure-queue", "16", "--backpressure-timeout", "2"]).start()
    try:
        statuses, retry = [], set()
        lock = threading.Lock()

        def flood(n):
            with httpx.Client(timeout=20) as c:
                for _ in range(n):
                    r = c.get(s.url + "/slow?s=0.5")
                    with lock:
                        statuses.append(r.status_code)
                        if r.status_code == 503:
                            retry.add(r.headers.get("retry-after"))

        rss0 = s.rss_kib()
        threads = [threading.Thread(target=flood, args=(4,)) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        rss1 = s.rss_kib()
        assert statuses.count(503) > 0 and statuses.count(200) > 0, statuses
        assert set(statuses) <= {200, 503}, statuses
        assert retry == {"2"}, retry
        assert rss1 - rss0 < 50 * 1024, (rss0, rss1)
        # Normal again once the flood is over.
        assert [httpx.get(s.url + "/").status_code for _ in range(5)] == [200] * 5
    finally:
        s.stop()


def test_requests_waiting_too_long_get_503():
    s = Server(APP, args=["--backpressure", "1", "--backpressure-timeout", "0.5"]).start()
    try:
        blocker = threading.Thread(target=lambda: httpx.get(s.url + "/slow?s=3", timeout=10))
        blocker.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        r = httpx.get(s.url + "/", timeout=10)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert 0.4 < time.monotonic() - t0 < 2.5
        blocker.join()
    finally:
        s.stop()


@pytest.mark.parametrize("queue", [64, 4])
def test_small_posts_queued_behind_busy_slots_each_get_their_own_body(queue):
    # A small body is read before its request takes a slot (src/_routing.ts); while every slot
    # is busy it waits in the queue with that body, and is answered through the same promise.
    s = Server("raw_asgi:app", args=["--backpressure", "2", "--backpressure-queue", str(queue),
                                     "--backpressure-timeout", "20"]).start()
    try:
        ready = threading.Barrier(3)

        def hold():
            with httpx.Client(timeout=30) as c, c.stream("GET", s.url + "/stream?n=4&delay=0.3") as r:
                it = r.iter_bytes()
                next(it)  # the first chunk: this request holds a slot in the app
                ready.wait(20)
                for _ in it:
                    pass

        holders = [threading.Thread(target=hold) for _ in range(2)]
        for t in holders:
            t.start()
        ready.wait(20)
        t0 = time.monotonic()
        results = {}

        def post(i):
            body = (f"body {i} " * (50 + i)).encode()
            r = httpx.post(s.url + "/echo", content=body, timeout=30)
            results[i] = (r.status_code, r.content == body, r.headers.get("retry-after"), time.monotonic() - t0)

        posts = [threading.Thread(target=post, args=(i,)) for i in range(20)]
        for t in posts:
            t.start()
        for t in posts + holders:
            t.join(60)
        assert len(results) == 20
        ok = [v for v in results.values() if v[0] == 200]
        assert all(v[1] for v in ok), results  # every answered POST got its own body back
        # They waited for the slots: the holders had at least 0.6 s to go.
        assert min(v[3] for v in ok) > 0.5, results
        refused = [v for v in results.values() if v[0] != 200]
        if queue >= 20:
            assert not refused, results
        else:
            assert refused and all(v[0] == 503 and v[2] == "20" for v in refused), results
            assert len(ok) >= queue, results
    finally:
        s.stop()

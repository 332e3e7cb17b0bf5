"""WSGI flow control and blocking threads through the real server: flat memory both ways,
close() when the client leaves, N slow requests overlapping on N threads, requests that wait
briefly spread over the threads."""
import asyncio
import hashlib
import json
import signal
import socket
import threading
import time

import httpx

from _server import rss_kib, tree_pids

MiB = 1024 * 1024


def wait_for_event(server, prefix, timeout=10):
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        found = [e for e in httpx.get(server.url + "/events").json() if e.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no event {prefix!r}")


def _python_worker_rss_kib(server):
    pids = [p for p in tree_pids(server.proc.pid) if p != server.proc.pid]
    return sum(rss_kib(p) for p in pids if _comm(p).startswith("python"))


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def test_200mib_upload_streams_through_wsgi_input_with_flat_memory(wsgi_server):
    block = bytes(range(256)) * 1024  # 256 KiB
    # Warm up with a large upload first: Bun's heap settles about 50 MiB higher after its first
    # large request body, whatever the interface (ASGI too) and however large the body (it stays
    # there for the next ones). What is measured below is what a 200 MiB body adds on top.
    httpx.post(wsgi_server.url + "/count", content=iter([block] * 400), timeout=60)
    before = wsgi_server.rss_kib()
    python_before = _python_worker_rss_kib(wsgi_server)
    peak = [before]
    python_peak = [python_before]
    digest = hashlib.sha256()

    def body():
        for i in range(800):  # 200 MiB, chunked (no content-length)
            if i % 40 == 0:
                peak.append(wsgi_server.rss_kib())
                python_peak.append(_python_worker_rss_kib(wsgi_server))
            digest.update(block)
            yield block

    r = httpx.post(wsgi_server.url + "/count?block=65536", content=body(), timeout=120)
    got = r.json()
    assert got["bytes"] == 200 * MiB
    assert got["sha256"] == digest.hexdigest()
    assert got["biggest"] == 65536
    growth = max(peak) - before
    assert growth < 40 * 1024, f"memory grew by {growth} KiB during a 200 MiB upload"
    # the WSGI worker itself holds about a window's worth, never the body
    python_growth = max(python_peak) - python_before
    assert python_growth < 16 * 1024, f"the Python worker grew by {python_growth} KiB during a 200 MiB upload"


def test_upload_to_a_slow_app_is_flow_controlled(wsgi_server):
    before = wsgi_server.rss_kib()
    r = httpx.post(wsgi_server.url + "/count?block=262144&slow=0.01", content=b"s" * (30 * MiB), timeout=120)
    assert r.json()["bytes"] == 30 * MiB
    assert wsgi_server.rss_kib() - before < 40 * 1024


def test_50mib_generator_download_with_flat_memory(wsgi_server):
    before = wsgi_server.rss_kib()
    total = 0
    peak = before
    with httpx.stream("GET", wsgi_server.url + f"/download?size={50 * MiB}&name=big", timeout=60) as r:
        for i, chunk in enumerate(r.iter_raw()):
            total += len(chunk)
            if i % 100 == 0:
                peak = max(peak, wsgi_server.rss_kib())
    assert total == 50 * MiB
    assert peak - before < 40 * 1024, f"memory grew by {peak - before} KiB during a 50 MiB download"
    assert wait_for_event(wsgi_server, "closed big") == f"closed big after {50 * MiB}"


def test_slow_client_holds_the_generator_back_and_close_is_called_when_it_leaves(wsgi_server):
    # A client that reads nothing while the app could generate 1 GiB: the app thread waits on
    # the window, memory stays flat; when the client leaves, close() runs.
    before = wsgi_server.rss_kib()
    s = socket.create_connection(("127.0.0.1", wsgi_server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(f"GET /download?size={1024 * MiB}&name=slowclient HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    samples = []
    for _ in range(10):
        time.sleep(0.2)
        samples.append(wsgi_server.rss_kib() - before)
    s.close()
    assert max(samples) < 40 * 1024, f"memory grew by {max(samples)} KiB for a client that does not read"
    closed = wait_for_event(wsgi_server, "closed slowclient")
    sent = int(closed.rsplit(" ", 1)[1])
    assert sent < 64 * MiB, f"the app produced {sent} bytes for a client that read nothing"
    assert httpx.get(wsgi_server.url + "/chunks").status_code == 200


def test_close_is_called_when_the_client_leaves_mid_stream(wsgi_server):
    with httpx.stream("GET", wsgi_server.url + "/stream?n=1000&delay=0.02&name=midstream") as r:
        next(r.iter_raw())
    closed = wait_for_event(wsgi_server, "closed midstream")
    assert int(closed.rsplit(" ", 1)[1]) < 1000 * 8
    assert httpx.get(wsgi_server.url + "/chunks").status_code == 200


def _slow_requests(url, count, delay):
    async def main():
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=count + 5)) as c:
            t0 = time.monotonic()
            rs = await asyncio.gather(*[c.get(f"/slow?delay={delay}") for _ in range(count)])
            return time.monotonic() - t0, [r.json() for r in rs]

    return asyncio.run(main())


def test_slow_requests_overlap_on_the_blocking_threads(make_server):
    s = make_server("raw_wsgi:app", interface="wsgi", args=["--blocking-threads", "4"])
    _slow_requests(s.url, 4, 0.05)  # start the threads
    elapsed, results = _slow_requests(s.url, 4, 1)
    assert elapsed < 2, f"4 requests sleeping 1 s on 4 threads took {elapsed:.2f} s"
    assert len({r["thread"] for r in results}) == 4
    # a 5th request waits for a free thread, without errors
    elapsed, results = _slow_requests(s.url, 5, 1)
    assert 2 <= elapsed < 3.5, elapsed
    starts = sorted(r["start"] for r in results)
    assert starts[4] - starts[0] >= 0.9
    assert len({r["thread"] for r in results}) == 4


def _most_at_once(results):
    """The most requests that were inside the app at the same moment."""
    edges = sorted([(r["start"], 1) for r in results] + [(r["end"], -1) for r in results])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _burst(url, count, delay):
    """`count` keep-alive connections each send a GET /slow at once, as a load tool's do: Bun
    gets them together and hands them to the worker in one batch. Returns what the app said."""
    host, port = url.split("//")[1].split(":")
    socks = [socket.create_connection((host, int(port)), timeout=30) for _ in range(count)]
    try:
        request = f"GET /slow?delay={delay} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        for sock in socks:
            sock.sendall(request)
        results = []
        for sock in socks:
            with sock.makefile("rb") as f:
                assert f.readline().startswith(b"HTTP/1.1 200"), "not a 200"
                length = 0
                while (line := f.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                results.append(json.loads(f.read(length)))
        return results
    finally:
        for sock in socks:
            sock.close()


def test_requests_that_wait_briefly_run_side_by_side(make_server):
    # Requests that each wait 1 ms (a query, an HTTP call) come to the worker in batches. Run one
    # after another by the thread that read them, as a batch of quick requests is, 64 of them take
    # 64 ms, and the server's monitor, which looks for threads stuck in the app, never sees a
    # stall; they are spread over the threads as they come instead
    # (python/granian_ts/interfaces/_wsgi_link.py).
    s = make_server("raw_wsgi:app", interface="wsgi", args=["--blocking-threads", "64"])
    _burst(s.url, 64, 0.001)  # the worker learns that its requests wait
    most = max(_most_at_once(_burst(s.url, 64, 0.001)) for _ in range(3))
    assert most >= 4, f"at most {most} of 64 requests waiting 1 ms ran at once"


def test_sigterm_lets_a_running_wsgi_request_finish(make_server):
    s = make_server("raw_wsgi:app", interface="wsgi", args=["--workers", "2", "--blocking-threads", "2"])
    result = {}

    def slow():
        result["r"] = httpx.get(s.url + "/slow?delay=1.5", timeout=10)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    code = s.stop(signal.SIGTERM)
    t.join()
    assert code == 0
    assert result["r"].status_code == 200
    assert "Traceback" not in s.log

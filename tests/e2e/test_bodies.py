"""Bodies stream both ways with flow control: memory stays flat, chunks arrive as sent."""
import socket
import time

import httpx

MiB = 1024 * 1024


def test_chunked_uploads_counted_exactly_with_flat_memory(raw_server):
    # A 50 MiB chunked upload first, counted exactly; it also grows Bun's heap to its steady
    # size (GC lag, not buffering). Then a 200 MiB one while the whole tree's memory (Bun +
    # Python) is sampled: flat means it grows far less than the body, whatever GC does.
    block = b"u" * (256 * 1024)
    r = httpx.post(raw_server.url + "/count", content=(block for _ in range(200)), timeout=60)
    assert r.json()["bytes"] == 50 * MiB
    before = raw_server.rss_kib()
    peak = [before]

    def body():
        for i in range(800):  # 200 MiB, sent chunked (no content-length)
            if i % 40 == 0:
                peak.append(raw_server.rss_kib())
            yield block

    r = httpx.post(raw_server.url + "/count", content=body(), timeout=120)
    assert r.status_code == 200
    got = r.json()
    assert got["bytes"] == 200 * MiB
    assert got["biggest"] <= MiB  # chunked at most MAX_CHUNK per message
    growth = max(peak) - before
    assert growth < 40 * 1024, f"memory grew by {growth} KiB during a 200 MiB upload"


def test_upload_to_a_slow_app_is_flow_controlled(raw_server):
    # The app sleeps per message: Bun must stop reading rather than buffer the whole body.
    before = raw_server.rss_kib()
    r = httpx.post(raw_server.url + "/count?slow=0.002", content=b"s" * (100 * MiB), timeout=120)
    assert r.json()["bytes"] == 100 * MiB
    assert raw_server.rss_kib() - before < 40 * 1024


def test_50mib_download_streams_with_flat_memory(raw_server):
    before = raw_server.rss_kib()
    total = 0
    peak = before
    with httpx.stream("GET", raw_server.url + f"/download?size={50 * MiB}", timeout=60) as r:
        # Bun strips content-length from stream bodies and sends them chunked (oven-sh/bun#10507).
        assert r.headers.get("content-length", str(50 * MiB)) == str(50 * MiB)
        for i, chunk in enumerate(r.iter_raw()):
            total += len(chunk)
            if i % 100 == 0:
                peak = max(peak, raw_server.rss_kib())
    assert total == 50 * MiB
    assert peak - before < 40 * 1024, f"memory grew by {peak - before} KiB during a 50 MiB download"


def test_slow_reader_does_not_make_the_server_buffer(raw_server):
    # A client that reads nothing: the app must be held back by flow control, not buffered.
    before = raw_server.rss_kib()
    s = socket.create_connection(("127.0.0.1", raw_server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(f"GET /download?size={200 * MiB} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(2)
    grown = raw_server.rss_kib() - before
    s.close()
    assert grown < 40 * 1024, f"memory grew by {grown} KiB for a client that does not read"
    # and the server is fine afterwards
    assert httpx.get(raw_server.url + "/scope").status_code == 200


def test_streamed_chunks_arrive_as_they_are_sent(raw_server):
    t0 = time.monotonic()
    times = []
    with httpx.stream("GET", raw_server.url + "/stream?n=3&delay=0.4") as r:
        for _ in r.iter_raw():
            times.append(time.monotonic() - t0)
    # The app sleeps 0.8 s between its first and last chunk: the first must arrive that much
    # before the last (streamed, not buffered), whatever the start-up latency of a busy box.
    assert times[-1] - times[0] > 0.6


def test_echo_of_binary_bodies_of_many_sizes(raw_server):
    with httpx.Client(base_url=raw_server.url) as c:
        for size in [0, 1, 100, 65535, 65536, 65537, MiB - 1, MiB, MiB + 1, 3 * MiB + 7]:
            data = bytes(i % 251 for i in range(size))
            r = c.post("/echo", content=data)
            assert r.status_code == 200
            assert r.content == data, size

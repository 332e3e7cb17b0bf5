"""RSGI bodies stream both ways with flow control; the client leaving reaches the app."""
import socket
import time

import httpx
import pytest

from _server import Server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def rsgi_server():
    s = Server("raw_rsgi:app", interface="rsgi").start()
    yield s
    s.stop()


def test_50mib_chunked_upload_iterated_with_flat_memory(rsgi_server):
    # Warm up with a chunked upload too: Bun's heap settles at its working size (GC lag).
    httpx.post(rsgi_server.url + "/count", content=(b"w" * (256 * 1024) for _ in range(80)), timeout=60)
    before = rsgi_server.rss_kib()
    peak = [before]
    block = b"u" * (256 * 1024)

    def body():
        for i in range(200):  # 50 MiB, chunked (no content-length)
            if i % 20 == 0:
                peak.append(rsgi_server.rss_kib())
            yield block

    got = httpx.post(rsgi_server.url + "/count", content=body(), timeout=60).json()
    assert got["bytes"] == 50 * MiB
    assert got["biggest"] <= MiB
    growth = max(peak) - before
    assert growth < 40 * 1024, f"memory grew by {growth} KiB during a 50 MiB upload"


def test_upload_to_a_slow_app_is_flow_controlled(rsgi_server):
    before = rsgi_server.rss_kib()
    r = httpx.post(rsgi_server.url + "/count?slow=0.002", content=b"s" * (30 * MiB), timeout=120)
    assert r.json()["bytes"] == 30 * MiB
    assert rsgi_server.rss_kib() - before < 40 * 1024


def test_whole_body_read_of_a_large_upload(rsgi_server):
    body = bytes(range(256)) * (5 * MiB // 256)
    r = httpx.post(rsgi_server.url + "/echo", content=body, timeout=60)
    assert r.content == body


def test_50mib_stream_download_with_flat_memory(rsgi_server):
    before = rsgi_server.rss_kib()
    total = 0
    peak = before
    with httpx.stream("GET", rsgi_server.url + f"/download?size={50 * MiB}", timeout=60) as r:
        for i, chunk in enumerate(r.iter_raw()):
            total += len(chunk)
            if i % 100 == 0:
                peak = max(peak, rsgi_server.rss_kib())
    assert total == 50 * MiB
    assert peak - before < 40 * 1024, f"memory grew by {peak - before} KiB during a 50 MiB download"


def test_a_client_that_does_not_read_holds_the_stream_back(rsgi_server):
    # response_stream's send_bytes must wait on the window, not pile 200 MiB up in memory.
    before = rsgi_server.rss_kib()
    s = socket.create_connection(("127.0.0.1", rsgi_server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(f"GET /download?size={200 * MiB} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    samples = []
    for _ in range(8):
        time.sleep(0.25)
        samples.append(rsgi_server.rss_kib() - before)
    s.close()
    assert max(samples) < 40 * 1024, f"memory grew by {max(samples)} KiB for a client that does not read"
    assert httpx.get(rsgi_server.url + "/str").status_code == 200


def test_client_disconnect_reaches_the_app(rsgi_server):
    s = socket.create_connection(("127.0.0.1", rsgi_server.port))
    s.settimeout(5)
    s.sendall(b"GET /wait_disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    seen = b""
    while b"waiting" not in seen:
        seen += s.recv(4096)
    s.close()
    deadline = time.monotonic() + 5
    events = []
    while time.monotonic() < deadline:
        events = httpx.get(rsgi_server.url + "/events").json()
        if len(events) == 2:
            break
        time.sleep(0.05)
    assert events == ["disconnected", "RSGIProtocolClosed"]

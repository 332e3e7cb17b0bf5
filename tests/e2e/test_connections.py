"""Keep-alive, concurrency and client disconnects."""
import asyncio
import subprocess
import socket
import time

import httpx


def test_100_requests_on_one_keep_alive_connection(raw_server):
    ports = set()
    with httpx.Client(base_url=raw_server.url, limits=httpx.Limits(max_connections=1)) as c:
        for i in range(100):
            r = c.get(f"/scope?i={i}")
            assert r.status_code == 200
            assert r.json()["query_string"] == f"i={i}"
            ports.add(r.json()["client"][1])
    assert len(ports) == 1  # the same client socket served all 100


def test_200_concurrent_slow_requests(raw_server):
    async def main():
        limits = httpx.Limits(max_connections=250)
        async with httpx.AsyncClient(base_url=raw_server.url, limits=limits, timeout=30) as c:
            t0 = time.monotonic()
            rs = await asyncio.gather(*[c.get("/slow?delay=1") for _ in range(200)])
            return time.monotonic() - t0, rs

    elapsed, rs = asyncio.run(main())
    assert all(r.status_code == 200 for r in rs)
    # They overlap: 200 one-second requests finish in a few seconds, not 200.
    assert elapsed < 10, elapsed


def test_client_disconnect_reaches_the_app(raw_server):
    s = socket.create_connection(("127.0.0.1", raw_server.port))
    s.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if "http.disconnect" in httpx.get(raw_server.url + "/disconnects").json():
            break
        time.sleep(0.1)
    assert "http.disconnect" in httpx.get(raw_server.url + "/disconnects").json()


def test_disconnect_in_the_middle_of_a_stream(raw_server):
    with httpx.stream("GET", raw_server.url + "/stream?n=50&delay=0.05") as r:
        next(r.iter_raw())
    # The server goes on serving.
    assert httpx.get(raw_server.url + "/scope").status_code == 200


def test_h2c_prior_knowledge_on_the_same_port(raw_server):
    out = subprocess.run(["curl", "-sS", "-i", "--http2-prior-knowledge", raw_server.url + "/scope?h2=1"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("HTTP/2 200")
    assert '"query_string": "h2=1"' in out


def test_http1_only_refuses_h2c(make_server):
    s = make_server("raw_asgi:app", args=["--http", "1"])
    assert httpx.get(s.url + "/scope").status_code == 200
    p = subprocess.run(["curl", "-sS", "--max-time", "5", "--http2-prior-knowledge", s.url + "/scope"], capture_output=True, text=True)
    assert p.returncode != 0 or not p.stdout.startswith("{")

"""A port someone else listens on is refused with "address already in use" (exit non-zero, no
worker left), with or without SO_REUSEPORT on their side; our own threads still share one."""
import socket
import subprocess
import sys
import time

import httpx
import pytest

from _server import APPS, BIN, BUN, Server, tree_pids


def start_on(port, timeout=30):
    """Run `serve` on a fixed port; return (exit code, output, seconds) — it must not start."""
    t0 = time.monotonic()
    p = subprocess.run([str(BUN), str(BIN), "serve", "--interface", "asgi", "--port", str(port), "--python", sys.executable,
                        "--working-dir", str(APPS), "raw_asgi:app"], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def test_a_second_granian_ts_on_the_same_port_is_refused(make_server):
    first = make_server("raw_asgi:app", args=["--workers", "2"])
    code, out, elapsed = start_on(first.port)
    assert code != 0
    assert f"address already in use: 127.0.0.1:{first.port}" in out
    assert "Listening" not in out
    assert "Application startup" not in out  # refused before any worker started
    assert elapsed < 10
    # The first one still gets every connection.
    pids = {httpx.get(first.url + "/scope", headers={"connection": "close"}).json()["pid"] for _ in range(20)}
    workers = set(tree_pids(first.proc.pid)) - {first.proc.pid}
    assert pids <= workers


@pytest.mark.parametrize("reuseport", [False, True], ids=["plain", "SO_REUSEPORT"])
@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_a_port_held_by_another_program_is_refused(reuseport, host):
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind((host, 0))
        other.listen()
        port = other.getsockname()[1]
        code, out, _ = start_on(port)
        assert code != 0
        assert "address already in use" in out
        assert "Listening" not in out
        # Nothing of ours took connections meant for it.
        other.settimeout(5)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            conn, _ = other.accept()
            conn.close()


def test_a_free_fixed_port_works_with_threads_sharing_it():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = Server("raw_asgi:app", args=["--workers", "2", "--runtime-threads", "2"])
    s.argv[s.argv.index("--port") + 1] = str(port)
    s.start()
    try:
        assert s.port == port
        pids = set()
        for _ in range(60):
            with httpx.Client() as c:
                pids.add(c.get(s.url + "/scope").json()["pid"])
        assert len(pids) == 2
    finally:
        assert s.stop() == 0

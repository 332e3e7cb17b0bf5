"""File descriptors: the soft limit goes up to the hard one (workers included), and a server
out of them stops accepting without a spin, keeps serving its open connections, and accepts
again once connections close."""
import os
import socket
import time

from _server import Server, tree_pids

APP = "supervised:app"
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def _limited(nofile, *args):
    s = Server(APP, args=args)
    s.argv = ["prlimit", f"--nofile={nofile}", "--", *s.argv]
    return s.start()


def _answer(sock, timeout=5):
    """The status line and body of one response read off a keep-alive socket."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed by the server after {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0], body


def _cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _open_files_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    return int(line.split()[3]), int(line.split()[4])


def test_soft_limit_is_raised_to_the_hard_limit_for_bun_and_the_workers():
    s = _limited("256:4096", "--workers", "2")
    try:
        pids = tree_pids(s.proc.pid)
        workers = [p for p in pids if b"granian_ts" in open(f"/proc/{p}/cmdline", "rb").read()]
        assert len(workers) == 2
        for pid in pids:
            assert _open_files_limit(pid) == (4096, 4096), pid
    finally:
        s.stop()


def test_out_of_file_descriptors_no_spin_open_connections_served_then_recovers():
    # Two listener threads: both must stop accepting. 256 descriptors hold fewer connections
    # than the 300 opened below.
    s = _limited("256:256", "--runtime-threads", "2")
    keeper = socket.create_connection(("127.0.0.1", s.port))
    extra = []
    try:
        keeper.sendall(REQUEST)
        assert _answer(keeper)[0] == b"HTTP/1.1 200 OK"
        for _ in range(300):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(REQUEST)  # Bun accepts a connection once it has data (TCP_DEFER_ACCEPT)
            extra.append(c)
        assert s.wait_for_log("new connections wait until some close", timeout=15), s.log

        # (i) No accept loop spinning on EMFILE (one core at 100% before): the whole tree,
        # Python worker included, stays well under a core while the table is full.
        pids = tree_pids(s.proc.pid)
        c0, t0 = _cpu_seconds(pids), time.monotonic()
        time.sleep(2)  # a measuring window, not a wait for readiness
        share = (_cpu_seconds(pids) - c0) / (time.monotonic() - t0)
        assert share < 0.4, f"{share:.0%} of a core while out of descriptors"

        # (ii) An open keep-alive connection is still answered, on the same connection.
        for _ in range(3):
            keeper.sendall(REQUEST)
            assert _answer(keeper)[0] == b"HTTP/1.1 200 OK"

        # (iii) Once the extra connections close, a new connection is served again.
        for c in extra:
            c.close()
        extra.clear()
        deadline = time.monotonic() + 20
        served = False
        while not served and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", s.port), timeout=2) as c:
                    c.sendall(REQUEST)
                    served = _answer(c, timeout=2)[0] == b"HTTP/1.1 200 OK"
            except OSError:
                time.sleep(0.1)
        assert served, s.log
        assert "accepting new connections again" in s.log
        keeper.sendall(REQUEST)
        assert _answer(keeper)[0] == b"HTTP/1.1 200 OK"
    finally:
        for c in extra:
            c.close()
        keeper.close()
        s.stop()

"""examples/deploy/nginx.conf in front of two real granian-ts instances: both are rolled one
after the other (SIGTERM, drain, start again; or SIGHUP, the workers replaced in place) while
wrk and slow streaming requests go through nginx, and the clients see no failed request."""
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from _server import ROOT, Server

# Both installed by scripts/test.sh when missing.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One granian-ts instance behind nginx: on a Unix socket (as shipped) or a TCP port."""

    def __init__(self, transport, tmp, n):
        self.transport = transport
        self.address = str(tmp / f"app{n}.sock") if transport == "uds" else str(free_port())
        self.server = None

    @property
    def upstream(self):
        return f"unix:{self.address}" if self.transport == "uds" else f"127.0.0.1:{self.address}"

    def start(self):
        # nginx's workers run as another user (nobody): as in docker-compose.yml, the socket is
        # open to every user, and only its directory decides who gets to it.
        where = ["--uds", self.address, "--uds-permissions", "0o666"] if self.transport == "uds" else ["--port", self.address]
        # nginx is the only peer, trusted with --proxy-headers (on a Unix socket the peer has no address).
        s = Server("mounted_asgi:app", args=["--shutdown-timeout", "20", "--proxy-headers", *where])
        if self.transport == "tcp":
            del s.argv[s.argv.index("--port"):][:2]  # the fixed port comes with `where`
        self.server = s.start()
        return self

    def worker_pid(self):
        """The pid of the Python worker behind the instance, asked directly (not through nginx)."""
        if self.transport == "uds":
            with httpx.Client(transport=httpx.HTTPTransport(uds=self.address)) as c:
                return c.get("http://localhost/").json()["pid"]
        return httpx.get(f"http://127.0.0.1:{self.address}/").json()["pid"]


class Nginx:
    """nginx running examples/deploy/nginx.conf, upstreams and listen port swapped for local ones."""

    def __init__(self, tmp, port, upstreams):
        conf = (ROOT / "examples" / "deploy" / "nginx.conf").read_text()
        conf = conf.replace("server unix:/run/granian-ts/app1.sock", f"server {upstreams[0]}")
        conf = conf.replace("server unix:/run/granian-ts/app2.sock", f"server {upstreams[1]}")
        conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
        assert str(upstreams[1]) in conf and str(port) in conf
        (tmp / "granian-ts.conf").write_text(conf)
        temps = "".join(f"{kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (tmp / "nginx.conf").write_text(
            f"worker_processes 1;\nerror_log {tmp}/error.log warn;\npid {tmp}/nginx.pid;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{\naccess_log off;\n{temps}include {tmp}/granian-ts.conf;\n}}\n"
        )
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(self.url + "/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise AssertionError("nginx did not answer:\n" + (tmp / "error.log").read_text())
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Clients:
    """Keep-alive clients through nginx: quick requests noting which instance (pid) answered,
    and slow streamed ones that are in flight when an instance stops. Counts every failure."""

    def __init__(self, url):
        self.url = url
        self.done = threading.Event()
        self.ok = {"quick": 0, "slow": 0}
        self.failures = []
        self.pids = []
        self.threads = [threading.Thread(target=self._quick, daemon=True)] + [
            threading.Thread(target=self._slow, daemon=True) for _ in range(4)
        ]
        for t in self.threads:
            t.start()

    def _quick(self):
        with httpx.Client(timeout=30) as c:
            while not self.done.is_set():
                try:
                    r = c.get(self.url + "/whoami")
                    assert r.status_code == 200, r.status_code
                    self.pids.append(r.json()["pid"])
                    self.ok["quick"] += 1
                except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                    self.failures.append(f"quick: {exc!r}")

    def _slow(self):
        with httpx.Client(timeout=30) as c:
            while not self.done.is_set():
                try:
                    r = c.get(self.url + "/stream", params={"n": 4, "delay": 0.1})
                    assert r.status_code == 200 and r.text == "".join(f"chunk {i}\n" for i in range(4)), r.text
                    self.ok["slow"] += 1
                except Exception as exc:  # noqa: BLE001
                    self.failures.append(f"slow: {exc!r}")

    def wait_for_pid(self, pid, timeout=20):
        """Wait until nginx sends requests to `pid` (a restarted instance is back in the pool)."""
        start = len(self.pids)
        deadline = time.monotonic() + timeout
        while pid not in self.pids[start:]:
            assert time.monotonic() < deadline, f"no request reached pid {pid} through nginx"
            time.sleep(0.02)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(30)


def parse_wrk(out):
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return requests, int(non2xx.group(1)) if non2xx else 0, sum(map(int, sockets.groups())) if sockets else 0


@pytest.fixture
def sockets_dir(tmp_path):
    """A directory nginx's workers may enter (pytest's tmp_path is root's alone)."""
    d = Path(tempfile.mkdtemp(prefix="gts-deploy-"))
    d.chmod(0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# restart: stop (SIGTERM: drain, exit 0) and start again, one instance after the other, as a
# deploy of a new version does; sighup: each instance replaces its worker in place.
@pytest.mark.parametrize("transport,roll", [("uds", "restart"), ("tcp", "restart"), ("uds", "sighup")])
def test_rolling_restart_through_nginx_loses_no_request(tmp_path, sockets_dir, transport, roll):
    apps, proxy, clients, wrk = [], None, None, None
    try:
        apps = [Instance(transport, sockets_dir, n).start() for n in (1, 2)]
        proxy = Nginx(tmp_path, free_port(), [a.upstream for a in apps])
        clients = Clients(proxy.url)
        wrk = subprocess.Popen(["wrk", "-t1", "-c8", "-d120s", proxy.url + "/"], stdout=subprocess.PIPE, text=True)
        # Both instances serve before the roll.
        for app in apps:
            clients.wait_for_pid(app.worker_pid())
        # The app sees the real client nginx names in X-Forwarded-For, not the proxy (over a
        # Unix socket, without --proxy-headers, it would see no client at all).
        assert httpx.get(proxy.url + "/").json()["client"] == "127.0.0.1"
        for app in apps:
            before = app.worker_pid()
            if roll == "restart":
                assert app.server.stop(signal.SIGTERM) == 0, app.server.log
                assert "shutting down" in app.server.log
                app.start()
            else:
                app.server.proc.send_signal(signal.SIGHUP)
                assert app.server.wait_for_log("rolling restart done", timeout=30), app.server.log
            after = app.worker_pid()
            assert after != before
            # Requests through nginx reach the new worker.
            clients.wait_for_pid(after)
    finally:
        out = ""
        if wrk:
            wrk.send_signal(signal.SIGINT)
            out = wrk.communicate(timeout=30)[0]
        if clients:
            clients.stop()
        if proxy:
            proxy.stop()
        for app in apps:
            app.server.stop()
    requests, non2xx, socket_errors = parse_wrk(out)
    print(f"\nwrk: {requests} requests, {non2xx} non-2xx, {socket_errors} socket errors; clients: {clients.ok}, "
          f"{len(clients.failures)} failures")
    assert clients.failures == []
    assert (non2xx, socket_errors) == (0, 0), out
    assert requests > 500 and clients.ok["quick"] > 50 and clients.ok["slow"] > 10

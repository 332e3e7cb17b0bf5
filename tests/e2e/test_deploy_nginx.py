"""examples/deploy/nginx.conf in front of two real granian-ts instances: both are restarted one
after the other (SIGTERM, drain, start again) while wrk and slow streaming requests go through
nginx, and the clients see no failed request."""
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import httpx
from _server import ROOT, Server

# Both installed by scripts/test.sh when missing.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pid(port):
    """The pid of the Python worker behind an instance, asked directly (not through nginx)."""
    return httpx.get(f"http://127.0.0.1:{port}/scope").json()["pid"]


def instance(port):
    s = Server("raw_asgi:app", args=["--shutdown-timeout", "20"])
    s.argv[s.argv.index("--port") + 1] = str(port)
    return s.start()


class Nginx:
    """nginx running examples/deploy/nginx.conf, upstreams and listen port swapped for local ones."""

    def __init__(self, tmp, port, upstreams):
        conf = (ROOT / "examples" / "deploy" / "nginx.conf").read_text()
        conf = conf.replace("server app1:8000", f"server 127.0.0.1:{upstreams[0]}")
        conf = conf.replace("server app2:8000", f"server 127.0.0.1:{upstreams[1]}")
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
        self.proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(self.url + "/status").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.proc.poll() is None, (tmp / "error.log").read_text()
            time.sleep(0.05)

    def stop(self):
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
                    r = c.get(self.url + "/scope")
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


def test_rolling_restart_through_nginx_loses_no_request(tmp_path):
    ports = [free_port(), free_port()]
    apps = [instance(p) for p in ports]
    proxy = Nginx(tmp_path, free_port(), ports)
    clients = Clients(proxy.url)
    wrk = subprocess.Popen(["wrk", "-t1", "-c8", "-d120s", proxy.url + "/status"], stdout=subprocess.PIPE, text=True)
    try:
        # Both instances serve before the roll.
        for port in ports:
            clients.wait_for_pid(worker_pid(port))
        for i, port in enumerate(ports):
            assert apps[i].stop(signal.SIGTERM) == 0, apps[i].log
            assert "shutting down" in apps[i].log
            apps[i] = instance(port)
            # Back in nginx's pool: requests through nginx reach the new instance.
            clients.wait_for_pid(worker_pid(port))
    finally:
        wrk.send_signal(signal.SIGINT)
        out = wrk.communicate(timeout=30)[0]
        clients.stop()
        proxy.stop()
        for app in apps:
            app.stop()
    requests, non2xx, socket_errors = parse_wrk(out)
    print(f"\nwrk: {requests} requests, {non2xx} non-2xx, {socket_errors} socket errors; clients: {clients.ok}, "
          f"{len(clients.failures)} failures")
    assert clients.failures == []
    assert (non2xx, socket_errors) == (0, 0), out
    assert requests > 500 and clients.ok["quick"] > 50 and clients.ok["slow"] > 10

"""Proxy headers (--proxy-headers, --forwarded-allow-ips) with a real nginx in front, and forged
headers from an untrusted peer. The client reaches nginx from 127.0.0.3 (a loopback address of
its own), so the address nginx forwards differs from nginx's own 127.0.0.1."""
import os
import shutil
import socket
import subprocess
import time

import httpx
import pytest

from _server import Server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLIENT_IP = "127.0.0.3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client():
    return httpx.Client(transport=httpx.HTTPTransport(local_address=CLIENT_IP), timeout=10)


class Nginx:
    def __init__(self, tmp, upstream):
        self.port = free_port()
        temps = "".join(f"{k}_temp_path {tmp}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # As root, nginx's workers would drop to nobody, who may not open a socket in our temp dir.
        user = "user root;" if os.geteuid() == 0 else ""
        (tmp / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  {temps}
  server {{
    listen 127.0.0.1:{self.port};
    location /xf/ {{
      proxy_pass http://{upstream}/;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host public.example;
    }}
    location /fwd/ {{
      proxy_pass http://{upstream}/;
      proxy_set_header Forwarded "for=$remote_addr:$remote_port;proto=https;host=fwd.example";
    }}
  }}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and self.proc.poll() is None, (tmp / "error.log").read_text()
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def nginx_for(tmp_path):
    started = []

    def make(server):
        n = Nginx(tmp_path, f"unix:{server.uds}:" if server.uds else f"127.0.0.1:{server.port}")
        started.append(n)
        return n

    yield make
    for n in started:
        n.stop()


def header(scope, name):
    return [v for k, v in scope["headers"] if k == name]


def test_asgi_through_nginx(make_server, nginx_for):
    s = make_server("raw_asgi:app", args=["--proxy-headers"])
    n = nginx_for(s)
    with client() as c:
        r = c.get(n.url + "/xf/scope").json()
        assert r["client"] == [CLIENT_IP, 0] and r["scheme"] == "https"
        assert header(r, "host") == ["public.example"]
        # forged X-Forwarded-For left of nginx's entry is not believed: nginx appends what it saw
        r = c.get(n.url + "/xf/scope", headers={"x-forwarded-for": "203.0.113.9"}).json()
        assert r["client"] == [CLIENT_IP, 0]
        r = c.get(n.url + "/fwd/scope").json()
        assert r["client"][0] == CLIENT_IP and r["client"][1] > 0  # RFC 7239 carries the port
        assert r["scheme"] == "https" and header(r, "host") == ["fwd.example"]


def test_forged_headers_from_untrusted_peer_change_nothing(make_server):
    s = make_server("raw_asgi:app", args=["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"])
    forged = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https", "x-forwarded-host": "evil.example",
              "forwarded": "for=198.51.100.1;proto=https;host=evil.example"}
    with client() as c:  # from 127.0.0.3: not trusted
        r = c.get(s.url + "/scope", headers=forged).json()
    assert r["client"][0] == CLIENT_IP and r["scheme"] == "http"
    assert header(r, "host") == [f"127.0.0.1:{s.port}"]


def test_off_by_default(make_server):
    s = make_server("raw_asgi:app")
    r = httpx.get(s.url + "/scope", headers={"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}).json()
    assert r["client"][0] == "127.0.0.1" and r["scheme"] == "http"


def test_trusted_cidr_and_chain(make_server):
    s = make_server("raw_asgi:app", args=["--proxy-headers", "--forwarded-allow-ips", "127.0.0.0/29, 10.0.0.0/8"])
    with client() as c:
        # 127.0.0.3 is trusted here; 10.1.1.1 is a trusted hop too: the client is the rightmost untrusted
        r = c.get(s.url + "/scope", headers={"x-forwarded-for": "198.51.100.7, 203.0.113.9, 10.1.1.1"}).json()
        assert r["client"] == ["203.0.113.9", 0]
        r = c.get(s.url + "/scope", headers={"x-forwarded-for": "[2001:db8::1]:8080"}).json()  # some proxies add the port
        assert r["client"] == ["2001:db8::1", 8080]
        r = c.get(s.url + "/scope", headers={"x-forwarded-for": "unknown"}).json()  # not an address: not believed
        assert r["client"][0] == CLIENT_IP
        r = c.get(s.url + "/scope", headers={"x-forwarded-for": "2001:db8::1", "x-forwarded-proto": "wss"}).json()
        assert r["client"] == ["2001:db8::1", 0] and r["scheme"] == "https"
        r = c.get(s.url + "/scope", headers={"x-forwarded-proto": "gopher", "x-forwarded-host": "bad\\host"}).json()
        assert r["scheme"] == "http" and header(r, "host") == [f"127.0.0.1:{s.port}"]


def test_wsgi_remote_addr_and_url_scheme(make_server, nginx_for):
    s = make_server("raw_wsgi:app", interface="wsgi", args=["--proxy-headers", "--forwarded-allow-ips", "*"])
    n = nginx_for(s)
    with client() as c:
        e = c.get(n.url + "/xf/environ").json()
    assert e["REMOTE_ADDR"] == CLIENT_IP and e["wsgi.url_scheme"] == "https" and e["HTTP_HOST"] == "public.example"


def test_access_log_shows_the_forwarded_client(make_server):
    s = make_server("raw_asgi:app", args=["--proxy-headers", "--access-log"])
    httpx.get(s.url + "/scope", headers={"x-forwarded-for": "203.0.113.77"})
    assert s.wait_for_log('203.0.113.77 - "GET /scope')


def test_bad_allow_list_is_an_option_error():
    s = Server("raw_asgi:app", args=["--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/99"])
    p = subprocess.run(s.argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--forwarded-allow-ips" in p.stderr


def test_through_nginx_over_the_unix_socket(make_server, nginx_for, tmp_path):
    # A peer on the Unix socket has no address; it is the proxy in front, and trusted.
    s = make_server("raw_asgi:app", args=["--uds", str(tmp_path / "app.sock"), "--proxy-headers"])
    n = nginx_for(s)
    with client() as c:
        r = c.get(n.url + "/xf/scope").json()
    assert r["client"] == [CLIENT_IP, 0] and r["scheme"] == "https"
    assert header(r, "host") == ["public.example"]

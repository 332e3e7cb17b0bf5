"""--http3 (experimental): HTTP/3 over QUIC on the TLS port's number, with aioquic as the client;
the scope says "3", the TCP responses advertise it with alt-svc."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from _certs import make_certs
from _server import Server

H3CLIENT = Path(__file__).resolve().parent / "_h3client.py"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


def h3_get(port, ca, path="/"):
    out = subprocess.run([sys.executable, str(H3CLIENT), f"https://localhost:{port}{path}", ca],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    status, _, body = out.stdout.partition("\n")
    return status, body


@pytest.mark.parametrize("target, interface, key, value", [
    ("conn_info:asgi", "asgi", "http_version", "3"),
    ("conn_info:rsgi", "rsgi", "http_version", "3"),
    ("conn_info:wsgi", "wsgi", "SERVER_PROTOCOL", "HTTP/3"),
])
def test_http3_request(make_server, certs, target, interface, key, value):
    s = make_server(target, interface=interface,
                    args=["--http3", "--ssl-certificate", certs.server_pem, "--ssl-keyfile", certs.server_key])
    status, body = h3_get(s.port, certs.ca_pem)
    assert status == "200"
    assert json.loads(body)[key] == value
    # The TCP side still serves HTTP/1.1 and HTTP/2, and says where HTTP/3 is.
    out = subprocess.run(["curl", "-sS", "--http2", "--cacert", certs.ca_pem, "-D", "-", "-o", "/dev/null",
                          f"https://localhost:{s.port}/"], capture_output=True, text=True, timeout=20)
    assert f'alt-svc: h3=":{s.port}"; ma=86400' in out.stdout.lower()


def test_http3_needs_tls():
    s = Server("conn_info:asgi", args=["--http3"])
    out = subprocess.run(s.argv, capture_output=True, text=True, timeout=60, env=s.env)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: --http3 needs TLS (--ssl-certificate and --ssl-keyfile)"

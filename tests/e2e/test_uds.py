"""--uds: serving on a Unix socket, its permissions, a stale file replaced, a live one refused,
the file removed on shutdown, TLS over it, and what the scopes say (ASGI spec; Granian)."""
import json
import os
import socket
import stat
import subprocess

import pytest

from _certs import make_certs
from _server import Server


@pytest.fixture
def sock(tmp_path):
    return str(tmp_path / "app.sock")


def curl_uds(path, url="http://localhost/", *args):
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--unix-socket", path, *args, url],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_asgi_scope_and_permissions(make_server, sock):
    s = make_server("conn_info:asgi", args=["--uds", sock, "--uds-permissions", "0o660"])
    assert s.uds == sock
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    info = curl_uds(sock)
    # ASGI spec: server is [path, None] on a Unix socket; the client has no address.
    assert info == {"http_version": "1.1", "scheme": "http", "client": None, "server": [sock, None]}
    assert curl_uds(sock, "http://localhost/", "--http2-prior-knowledge")["http_version"] == "2"


def test_rsgi_and_wsgi_scopes(make_server, tmp_path):
    r = make_server("conn_info:rsgi", interface="rsgi", args=["--uds", str(tmp_path / "r.sock")])
    # As Granian sends them.
    assert curl_uds(r.uds) == {"http_version": "1.1", "scheme": "http", "client": "", "server": r.uds}
    w = make_server("conn_info:wsgi", interface="wsgi", args=["--uds", str(tmp_path / "w.sock"), "--uds-permissions", "600"])
    assert stat.S_IMODE(os.stat(w.uds).st_mode) == 0o600
    info = curl_uds(w.uds)
    assert (info["SERVER_NAME"], info["SERVER_PORT"], info["REMOTE_ADDR"]) == (w.uds, "0", "")
    assert info["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_stale_socket_replaced_and_removed_on_sigterm(sock):
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(sock)  # bound, never listening: what a crashed server leaves behind
    stale.close()
    assert os.path.exists(sock)
    s = Server("conn_info:asgi", args=["--uds", sock]).start()
    try:
        assert curl_uds(sock)["server"] == [sock, None]
    finally:
        assert s.stop() == 0
    assert not os.path.exists(sock)


def test_live_socket_refused(make_server, sock):
    make_server("conn_info:asgi", args=["--uds", sock])
    second = Server("conn_info:asgi", args=["--uds", sock])
    out = subprocess.run(second.argv, capture_output=True, text=True, timeout=60, env=second.env)
    assert out.returncode == 1
    assert f"--uds {sock} is in use: another server is listening on it" in out.stderr
    assert "startup" not in out.stdout  # refused before any worker started
    assert curl_uds(sock)["server"] == [sock, None]  # the first server still has it


def test_tls_over_uds(make_server, tmp_path):
    c = make_certs(tmp_path / "certs")
    path = str(tmp_path / "tls.sock")
    make_server("conn_info:asgi", args=["--uds", path, "--ssl-certificate", c.server_pem, "--ssl-keyfile", c.server_key])
    info = curl_uds(path, "https://localhost/", "--cacert", c.ca_pem, "--http2")
    assert (info["scheme"], info["http_version"], info["server"]) == ("https", "2", [path, None])


@pytest.mark.parametrize("args, message", [
    (["--uds-permissions", "0o660"], "--uds-permissions needs --uds"),
    (["--uds", "/nonexistent-dir/x.sock"], "invalid value for --uds: /nonexistent-dir/x.sock: the directory /nonexistent-dir does not exist"),
    (["--uds", "{tmp}/a.sock", "--uds-permissions", "rw"], 'invalid value for --uds-permissions: "rw" (expected an octal mode such as 0o660 or 0660)'),
])
def test_bad_uds_options(tmp_path, args, message):
    s = Server("conn_info:asgi", args=[a.format(tmp=tmp_path) for a in args])
    out = subprocess.run(s.argv, capture_output=True, text=True, timeout=60, env=s.env)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: " + message

"""--http auto|1|2 with the scope telling the truth per connection, TLS and mutual TLS, against
real clients: curl, httpx (HTTP/2 via h2), openssl s_client, h2load, websockets."""
import json
import socket
import ssl
import subprocess

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from _certs import PASSWORD, make_certs
from _server import Server

APP = "conn_info:asgi"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


def tls_args(c, *extra):
    return ["--ssl-certificate", c.server_pem, "--ssl-keyfile", c.server_key, *extra]


@pytest.fixture(scope="module")
def h2c_server():
    s = Server(APP).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tls_server(certs):
    s = Server(APP, args=tls_args(certs)).start()
    yield s
    s.stop()


def curl(*args):
    out = subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return out.stdout


def curl_info(url, *args):
    """The app's view and curl's (the protocol it spoke)."""
    body, _, version = curl(*args, "-w", "\n%{http_version}", url).rpartition("\n")
    return json.loads(body), version


# --- the same cleartext port, both protocols -------------------------------------------------

@pytest.mark.parametrize("flag, wire, scope", [
    ("--http1.1", "1.1", "1.1"),
    ("--http1.0", "1.1", "1.0"),  # Bun answers HTTP/1.0 with an HTTP/1.1 status line
    ("--http2-prior-knowledge", "2", "2"),
])
def test_curl_cleartext_versions(h2c_server, flag, wire, scope):
    info, version = curl_info(h2c_server.url + "/", flag, *(["-H", "Host:"] if flag == "--http1.0" else []))
    assert version == wire
    assert (info["http_version"], info["scheme"]) == (scope, "http")


def test_httpx_h2c_and_h1_same_port(h2c_server):
    with httpx.Client(http1=False, http2=True) as c:  # prior knowledge
        r = c.get(h2c_server.url + "/")
        assert r.http_version == "HTTP/2"
        assert r.json()["http_version"] == "2"
    with httpx.Client() as c:
        r = c.get(h2c_server.url + "/")
        assert r.http_version == "HTTP/1.1"
        assert r.json()["http_version"] == "1.1"


def test_raw_http1_with_only_host(h2c_server):
    # wrk and hand-written clients send nothing but Host: still HTTP/1.1.
    with socket.create_connection(("127.0.0.1", h2c_server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["http_version"] == "1.1"


def test_websocket_on_h2_enabled_port(h2c_server):
    with ws_connect(h2c_server.url.replace("http", "ws") + "/ws", open_timeout=10) as ws:
        info = json.loads(ws.recv(timeout=10))
    assert (info["http_version"], info["scheme"]) == ("1.1", "ws")


@pytest.mark.parametrize("mode, flag, ok", [
    ("1", "--http1.1", True), ("1", "--http2-prior-knowledge", False),
    ("2", "--http2-prior-knowledge", True), ("2", "--http1.1", False),
])
def test_http_mode_refuses_the_other_protocol(make_server, mode, flag, ok):
    s = make_server(APP, args=["--http", mode])
    out = subprocess.run(["curl", "-s", "--max-time", "5", flag, "-o", "/dev/null", "-w", "%{http_code}", s.url + "/"],
                         capture_output=True, text=True, timeout=20)
    if ok:
        assert out.stdout == "200"
    else:
        assert out.stdout != "200"


def test_scope_versions_rsgi_wsgi(make_server):
    r = make_server("conn_info:rsgi", interface="rsgi")
    assert curl_info(r.url + "/", "--http2-prior-knowledge")[0]["http_version"] == "2"
    assert curl_info(r.url + "/", "--http1.1")[0]["http_version"] == "1.1"
    w = make_server("conn_info:wsgi", interface="wsgi")
    assert curl_info(w.url + "/", "--http2-prior-knowledge")[0]["SERVER_PROTOCOL"] == "HTTP/2"
    assert curl_info(w.url + "/", "--http1.1")[0]["SERVER_PROTOCOL"] == "HTTP/1.1"


# --- TLS -------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, version", [("--http1.1", "1.1"), ("--http2", "2")])
def test_curl_tls_alpn(tls_server, certs, flag, version):
    info, wire = curl_info(f"https://localhost:{tls_server.port}/", "--cacert", certs.ca_pem, flag)
    assert wire == version
    assert (info["http_version"], info["scheme"]) == (version, "https")


def test_httpx_http2_over_tls(tls_server, certs):
    ctx = ssl.create_default_context(cafile=certs.ca_pem)
    with httpx.Client(http2=True, verify=ctx) as c:
        r = c.get(f"https://localhost:{tls_server.port}/")
    assert r.http_version == "HTTP/2"
    assert (r.json()["http_version"], r.json()["scheme"]) == ("2", "https")


def test_wss_and_wsgi_https(make_server, certs):
    s = make_server(APP, args=tls_args(certs))
    ctx = ssl.create_default_context(cafile=certs.ca_pem)
    with ws_connect(f"wss://localhost:{s.port}/ws", ssl=ctx, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["scheme"] == "wss"
    w = make_server("conn_info:wsgi", interface="wsgi", args=tls_args(certs))
    info, _ = curl_info(f"https://localhost:{w.port}/", "--cacert", certs.ca_pem, "--http2")
    assert (info["wsgi.url_scheme"], info["SERVER_PROTOCOL"]) == ("https", "HTTP/2")


def handshake(port, version, ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.version()


def test_tls_min_version(make_server, certs):
    # Granian's default minimum is TLS 1.3.
    s13 = make_server(APP, args=tls_args(certs))
    assert handshake(s13.port, ssl.TLSVersion.TLSv1_3, certs.ca_pem) == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        handshake(s13.port, ssl.TLSVersion.TLSv1_2, certs.ca_pem)
    s12 = make_server(APP, args=tls_args(certs, "--ssl-protocol-min", "tls1.2"))
    assert handshake(s12.port, ssl.TLSVersion.TLSv1_2, certs.ca_pem) == "TLSv1.2"
    assert handshake(s12.port, ssl.TLSVersion.TLSv1_3, certs.ca_pem) == "TLSv1.3"


def test_encrypted_key_right_password(make_server, certs):
    s = make_server(APP, args=["--ssl-certificate", certs.server_pem, "--ssl-keyfile", certs.server_enc_key,
                               "--ssl-keyfile-password", PASSWORD])
    assert curl_info(f"https://localhost:{s.port}/", "--cacert", certs.ca_pem)[0]["scheme"] == "https"


def mtls_get(port, certs, cert=None, key=None):
    args = ["curl", "-s", "--max-time", "5", "--cacert", certs.ca_pem, "-o", "/dev/null", "-w", "%{http_code}"]
    if cert:
        args += ["--cert", cert, "--key", key]
    return subprocess.run([*args, f"https://localhost:{port}/"], capture_output=True, text=True, timeout=20).stdout


def test_mutual_tls(make_server, certs):
    s = make_server(APP, args=tls_args(certs, "--ssl-ca", certs.ca_pem, "--ssl-client-verify", "--ssl-crl", certs.ca_crl))
    assert mtls_get(s.port, certs, certs.client_pem, certs.client_key) == "200"
    assert mtls_get(s.port, certs) == "000"  # no certificate: the handshake fails
    assert mtls_get(s.port, certs, certs.stranger_pem, certs.stranger_key) == "000"  # another CA
    assert mtls_get(s.port, certs, certs.revoked_pem, certs.revoked_key) == "000"  # on the CRL


def run_cli(*args, timeout=30):
    s = Server(APP, args=list(args))
    return subprocess.run(s.argv, capture_output=True, text=True, timeout=timeout, env=s.env)


@pytest.mark.parametrize("case, message", [
    ("missing", "invalid value for --ssl-certificate: {d}/nope.pem: no such file"),
    ("wrong-password", "invalid value for --ssl-keyfile-password: it does not decrypt {d}/server.enc.key"),
    ("no-password", "--ssl-keyfile {d}/server.enc.key is encrypted: give its password with --ssl-keyfile-password"),
    ("mismatch", "invalid value for --ssl-keyfile: {d}/client.key is not the key of the certificate in {d}/server.pem"),
    ("verify-without-ca", "--ssl-client-verify needs --ssl-ca"),
])
def test_tls_startup_errors(certs, case, message):
    d = str(certs.dir)
    args = {
        "missing": ["--ssl-certificate", f"{d}/nope.pem", "--ssl-keyfile", certs.server_key],
        "wrong-password": ["--ssl-certificate", certs.server_pem, "--ssl-keyfile", certs.server_enc_key,
                           "--ssl-keyfile-password", "wrong"],
        "no-password": ["--ssl-certificate", certs.server_pem, "--ssl-keyfile", certs.server_enc_key],
        "mismatch": ["--ssl-certificate", certs.server_pem, "--ssl-keyfile", certs.client_key],
        "verify-without-ca": [*tls_args(certs), "--ssl-client-verify"],
    }[case]
    out = run_cli(*args)
    assert out.returncode == 2
    # One line, naming the option and the file; no worker was started (nothing else logged).
    assert out.stderr.strip() == "error: " + message.format(d=d)
    assert "Listening" not in out.stdout and "startup" not in out.stdout


def test_expired_certificate_warns(make_server, certs):
    s = make_server(APP, args=["--ssl-certificate", certs.expired_pem, "--ssl-keyfile", certs.expired_key])
    assert f"--ssl-certificate {certs.expired_pem} expired on" in s.log


# --- load: h2load ----------------------------------------------------------------------------

def h2load(url):
    out = subprocess.run(["h2load", "-n", "10000", "-c", "8", "-m", "100", url],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("requests:"))
    return line, out.stdout


def test_h2load_h2c(h2c_server):
    line, out = h2load(h2c_server.url + "/")
    assert "10000 succeeded, 0 failed, 0 errored, 0 timeout" in line, out
    assert "status codes: 10000 2xx" in out


def test_h2load_tls(tls_server):
    line, out = h2load(f"https://localhost:{tls_server.port}/")
    assert "10000 succeeded, 0 failed, 0 errored, 0 timeout" in line, out
    assert "status codes: 10000 2xx" in out

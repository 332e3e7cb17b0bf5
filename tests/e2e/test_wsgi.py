"""WSGI through the real server: the environ, responses and errors, against a raw WSGI app."""
import socket
import subprocess
import time

import httpx
import pytest
from _server import raw_request

MiB = 1024 * 1024


def events(server):
    return httpx.get(server.url + "/events").json()


def wait_for_event(server, prefix, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(server) if e.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no event {prefix!r} in {events(server)}")


def test_environ_has_every_pep3333_key(wsgi_server):
    r = httpx.post(
        wsgi_server.url + "/environ/caf%C3%A9/a%2Fb?x=1&y=%20z",
        content=b"body!",
        headers={"Content-Type": "text/x-test", "X-Custom": "v", "Cookie": "a=1"},
    )
    e = r.json()
    assert e["REQUEST_METHOD"] == "POST"
    assert e["SCRIPT_NAME"] == ""
    assert e["PATH_INFO"] == "/environ/caf\u00c3\u00a9/a/b"  # decoded bytes as latin-1 (PEP 3333)
    assert e["QUERY_STRING"] == "x=1&y=%20z"
    assert e["CONTENT_TYPE"] == "text/x-test"
    assert e["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in e and "HTTP_CONTENT_LENGTH" not in e
    assert e["SERVER_NAME"] == "127.0.0.1"
    assert e["SERVER_PORT"].isdigit()  # the configured port: "0" here (--port 0), see below
    assert e["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert e["REMOTE_ADDR"] == "127.0.0.1"
    assert int(e["REMOTE_PORT"]) > 0
    assert e["HTTP_HOST"] == f"127.0.0.1:{wsgi_server.port}"
    assert e["HTTP_X_CUSTOM"] == "v"
    assert e["HTTP_COOKIE"] == "a=1"
    assert e["wsgi.version"] == [1, 0]
    assert e["wsgi.url_scheme"] == "http"
    assert e["wsgi.input"] == "WSGIInput"
    assert e["wsgi.errors"] == "<stderr>"
    assert e["wsgi.multithread"] is True
    assert e["wsgi.multiprocess"] is True
    assert e["wsgi.run_once"] is False
    assert e["wsgi.input_terminated"] is True
    assert e["wsgi.file_wrapper"] is True
    assert e["body"] == "body!"
    assert e["thread"].startswith("granian-ts-wsgi-")  # never the event loop's thread


def test_repeated_headers_and_cookies_as_bun_merges_them(wsgi_server):
    resp = raw_request(
        wsgi_server.port,
        b"GET /environ HTTP/1.1\r\nHost: x\r\nX-Rep: a\r\nX-Rep: b\r\nCookie: a=1\r\nCookie: b=2\r\n"
        b"X-A-B: dash\r\nX-A_B: underscore\r\nConnection: close\r\n\r\n",
    )
    assert b'"HTTP_X_REP": "a, b"' in resp  # Bun joins repeated headers with ", "
    assert b'"HTTP_COOKIE": "a=1; b=2"' in resp  # and cookies with "; "
    assert b'"HTTP_X_A_B": "dash"' in resp  # X-A_B is dropped: it would forge X-A-B's key


def test_server_name_and_port_are_the_configured_ones(make_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = make_server("raw_wsgi:app", interface="wsgi", args=["--port", str(port)])
    assert s.port == port
    e = httpx.get(s.url + "/environ").json()
    assert (e["SERVER_NAME"], e["SERVER_PORT"]) == ("127.0.0.1", str(port))


def test_root_path_is_script_name(make_server):
    s = make_server("raw_wsgi:app", interface="wsgi", args=["--root-path", "/mount"])
    e = httpx.get(s.url + "/mount/environ/x").json()
    assert (e["SCRIPT_NAME"], e["PATH_INFO"]) == ("/mount", "/environ/x")
    # a proxy that already removed the prefix: the path is the app's own
    e = httpx.get(s.url + "/environ/y").json()
    assert (e["SCRIPT_NAME"], e["PATH_INFO"]) == ("/mount", "/environ/y")


def test_h2c_prior_knowledge(wsgi_server):
    out = subprocess.run(["curl", "-sS", "-i", "--http2-prior-knowledge", wsgi_server.url + "/environ?h2=1"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("HTTP/2 200")
    assert '"QUERY_STRING": "h2=1"' in out


def test_list_response_keeps_its_content_length(wsgi_server):
    r = httpx.get(wsgi_server.url + "/chunks")
    assert r.content == b"alpha-beta-gamma"
    assert r.headers["content-length"] == "16"
    assert "transfer-encoding" not in r.headers


def test_write_callable_then_iterable(wsgi_server):
    r = httpx.get(wsgi_server.url + "/write")
    assert r.content == b"written-bytearray-iterated"
    assert wait_for_event(wsgi_server, "closed write") == "closed write after 8"


def test_statuses_and_headers(wsgi_server):
    for code in [201, 204, 301, 304, 400, 418, 503]:
        r = httpx.get(wsgi_server.url + f"/status?code={code}")
        assert r.status_code == code
        assert r.headers["x-status"] == str(code)
    r = httpx.get(wsgi_server.url + "/cookies")
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert (b"x-latin", "caf\u00e9".encode("latin-1")) in [(k.lower(), v) for k, v in r.headers.raw]


def test_head_request_gets_no_body(wsgi_server):
    r = httpx.head(wsgi_server.url + "/chunks")
    assert r.status_code == 200 and r.content == b""


def test_streamed_chunks_arrive_as_they_are_produced(wsgi_server):
    t0 = time.monotonic()
    times = []
    with httpx.stream("GET", wsgi_server.url + "/stream?n=3&delay=0.4&name=timing") as r:
        for _ in r.iter_raw():
            times.append(time.monotonic() - t0)
    # 0.8 s of the app's sleeps apart: streamed, not buffered (a gap, not start-up latency).
    assert times[-1] - times[0] > 0.6
    assert wait_for_event(wsgi_server, "closed timing") == "closed timing after 24"


def test_file_wrapper(wsgi_server):
    r = httpx.get(wsgi_server.url + "/file?size=300007")
    expected = bytes(i % 256 for i in range(256)) * (300007 // 256) + b"z" * (300007 % 256)
    assert r.status_code == 200
    assert r.content == expected


def test_echo_of_binary_bodies_of_many_sizes(wsgi_server):
    with httpx.Client(base_url=wsgi_server.url) as c:
        for size in [0, 1, 100, 65535, 65536, 65537, MiB - 1, MiB, MiB + 1, 3 * MiB + 7]:
            data = bytes(i % 251 for i in range(size))
            r = c.post("/echo", content=data)
            assert r.status_code == 200
            assert r.content == data, size


def test_input_reads_lines_and_sizes(wsgi_server):
    body = b"one\ntwo\n\nthree\nlast"
    assert httpx.post(wsgi_server.url + "/lines?how=iter", content=body).json() == ["one\n", "two\n", "\n", "three\n", "last"]
    assert httpx.post(wsgi_server.url + "/lines?how=readlines", content=body).json() == ["one\n", "two\n", "\n", "three\n", "last"]
    assert httpx.post(wsgi_server.url + "/lines?how=readline&limit=2", content=body).json() == ["on", "e\n", "two\n\nthree\nlast"]
    assert httpx.post(wsgi_server.url + "/read-sizes?sizes=2,0,5,100,1", content=b"abcdefghij").json() == ["ab", "", "cdefg", "hij", ""]


def test_chunked_upload_without_content_length_is_read_to_the_end(wsgi_server):
    def body():
        for i in range(10):
            yield bytes([65 + i]) * 1000

    r = httpx.post(wsgi_server.url + "/count?block=777", content=body())
    assert r.json()["bytes"] == 10000


@pytest.mark.parametrize(
    "path, logged",
    [
        ("/error-before", "boom before the response"),
        ("/no-start-response", "did not call start_response()"),
        ("/bad-status?status=OK", "invalid WSGI status line 'OK'"),
        ("/bad-status?status=600", "WSGI status 600 is not supported"),
        ("/bad-header", "invalid WSGI response header name 'X Bad Name'"),
        ("/bad-header-value", "contains NUL, CR or LF"),
        ("/not-bytes", "WSGI response body items must be bytes, got str"),
        ("/error-in-generator-start", "boom in the first iteration"),
    ],
)
def test_app_errors_are_500_with_a_log_line_and_the_worker_lives(wsgi_server, path, logged):
    r = httpx.get(wsgi_server.url + path)
    assert r.status_code == 500
    assert r.text == "Internal server error"
    assert wsgi_server.wait_for_log(logged)
    assert httpx.get(wsgi_server.url + "/chunks").status_code == 200


def test_exception_after_the_response_started_drops_the_connection(wsgi_server):
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        with httpx.stream("GET", wsgi_server.url + "/error-after", timeout=10) as r:
            assert r.status_code == 200
            r.read()
    assert wsgi_server.wait_for_log("boom after the response started")
    assert "Traceback" in wsgi_server.log
    assert wait_for_event(wsgi_server, "closed error-after") == "closed error-after after 7"


def test_exc_info(wsgi_server):
    r = httpx.get(wsgi_server.url + "/exc-info")
    assert (r.status_code, r.headers.get("x-replaced"), r.headers.get("x-first"), r.content) == (503, "1", None, b"replaced")
    # too late to replace once the body started: the error propagates (500 or a dropped response)
    try:
        r = httpx.get(wsgi_server.url + "/exc-info-late")
        assert r.status_code == 500
    except (httpx.RemoteProtocolError, httpx.ReadError):
        pass
    assert wsgi_server.wait_for_log("too late to replace")


def test_worker_dying_in_the_app_is_a_502_and_it_comes_back(make_server):
    s = make_server("raw_wsgi:app", interface="wsgi", args=["--respawn-failed-workers"])
    assert httpx.get(s.url + "/die", timeout=10).status_code == 502
    assert s.wait_for_log("dying on purpose")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(s.url + "/chunks", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    assert httpx.get(s.url + "/chunks").status_code == 200

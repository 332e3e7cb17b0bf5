"""Flask (a real WSGI framework from PyPI) on granian-ts --interface wsgi."""
import hashlib
import time

import httpx
import pytest

from _server import Server


@pytest.fixture(scope="module")
def flask_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("flask")
    s = Server("flask_app:app", interface="wsgi", args=["--blocking-threads", "4"], env={"FLASK_APP_DATA": str(data)}).start()
    yield s
    s.stop()


def test_json_round_trip(flask_server):
    with httpx.Client(base_url=flask_server.url) as c:
        r = c.post("/api/items", json={"name": "caf\u00e9", "tags": ["a", "b"]})
        assert r.status_code == 201
        assert r.json() == {"name": "caf\u00e9", "tags": ["a", "b"]}
        assert c.post("/api/items", json={"nope": 1}).status_code == 400
        listed = c.get("/api/items").json()
        assert listed["count"] >= 1 and {"name": "caf\u00e9", "tags": ["a", "b"]} in listed["items"]
        assert c.get("/api/items").headers["content-type"] == "application/json"


def test_multipart_upload_of_several_files(flask_server):
    big = bytes(range(256)) * 4096 * 5  # 5 MiB
    small = b"hello upload"
    r = httpx.post(
        flask_server.url + "/upload",
        files=[("big", ("big.bin", big, "application/octet-stream")), ("small", ("s.txt", small, "text/plain"))],
        data={"note": "two files"},
        timeout=30,
    )
    assert r.status_code == 200
    got = r.json()
    assert got["form"] == {"note": "two files"}
    assert got["files"] == [
        {"field": "big", "filename": "big.bin", "size": len(big), "sha256": hashlib.sha256(big).hexdigest()},
        {"field": "small", "filename": "s.txt", "size": len(small), "sha256": hashlib.sha256(small).hexdigest()},
    ]


def test_streaming_with_context(flask_server):
    t0 = time.monotonic()
    arrivals = []
    text = b""
    with httpx.stream("GET", flask_server.url + "/stream?n=3&delay=0.4&who=bun") as r:
        for chunk in r.iter_raw():
            arrivals.append(time.monotonic() - t0)
            text += chunk
    assert text == b"0: hello bun\n1: hello bun\n2: hello bun\n"
    # 0.8 s of the app's sleeps lie between the first chunk and the last: streamed, not buffered
    # (a gap, not an absolute time, so that a busy box's start-up latency does not count).
    assert arrivals[-1] - arrivals[0] > 0.6


def test_send_file_whole_conditional_and_range(flask_server):
    expected = bytes(range(256)) * 4096 * 2
    r = httpx.get(flask_server.url + "/file")
    assert r.status_code == 200
    assert r.content == expected
    # Bun sends streamed bodies chunked, without content-length (oven-sh/bun#10507): a file
    # goes out as a stream until Bun sends files itself (issue 5).
    assert r.headers.get("content-length", str(len(expected))) == str(len(expected))
    etag = r.headers["etag"]
    assert httpx.get(flask_server.url + "/file", headers={"If-None-Match": etag}).status_code == 304
    r = httpx.get(flask_server.url + "/file", headers={"Range": "bytes=1000-1999"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 1000-1999/{len(expected)}"
    assert r.content == expected[1000:2000]


def test_errors(flask_server):
    assert httpx.get(flask_server.url + "/missing").status_code == 404
    r = httpx.get(flask_server.url + "/teapot")
    assert (r.status_code, r.json()) == (418, {"error": "teapot"})
    r = httpx.get(flask_server.url + "/boom")
    assert r.status_code == 500  # Flask's own error page; Flask logs the traceback
    assert flask_server.wait_for_log("flask view failed")
    assert httpx.get(flask_server.url + "/api/items").status_code == 200

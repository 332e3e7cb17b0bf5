"""RSGI against a real granian-ts: scope, every response method, files, errors, init/del hooks."""
import json
import subprocess

import httpx
import pytest

from _server import Server

MiB = 1024 * 1024


@pytest.fixture(scope="module", params=["asyncio", "rust"], ids=lambda impl: f"task-impl-{impl}")
def rsgi_server(tmp_path_factory, request):
    del_file = tmp_path_factory.mktemp("rsgi") / "del.log"
    s = Server("raw_rsgi:app", interface="rsgi", env={"RAW_RSGI_DEL_FILE": str(del_file)},
               args=["--task-impl", request.param]).start()
    s.del_file = del_file
    yield s
    s.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    (d / "data.txt").write_bytes(b"0123456789abcdefghij")
    (d / "big.bin").write_bytes(bytes(range(256)) * (12 * MiB // 256))  # 12 MiB
    (d / "caf\u00e9 file.txt").write_bytes(b"non-ascii name")
    return d


def get(server, path, **kw):
    return httpx.get(server.url + path, timeout=30, **kw)


def test_scope_fields(rsgi_server):
    r = httpx.post(rsgi_server.url + "/scope/caf%C3%A9%20x?a=1&b=%20", content=b"hi",
                   headers={"x-multi": "one", "X-Other": "v"})
    s = r.json()
    assert (s["proto"], s["rsgi_version"], s["http_version"], s["scheme"], s["method"]) == ("http", "1.6", "1.1", "http", "POST")
    # The workers start before Bun binds, so with --port 0 the port they know is 0 (as ASGI's).
    assert s["server"] in (f"127.0.0.1:{rsgi_server.port}", "127.0.0.1:0")
    host, port = s["client"].rsplit(":", 1)
    assert host == "127.0.0.1" and 0 < int(port) < 65536
    assert (s["path"], s["query_string"]) == ("/scope/caf\u00e9 x", "a=1&b=%20")
    assert s["authority"] is None
    assert ["x-multi", "one"] in s["headers"] and ["x-other", "v"] in s["headers"]
    assert s["keys"] == [k for k, _ in s["headers"]] and s["values"] == [v for _, v in s["headers"]]
    assert (s["get"], s["get_missing"], s["get_all"], s["contains"]) == ("one", "dflt", ["one"], True)
    assert s["len"] == len(s["headers"])
    assert s["body"] == "hi"
    # __rsgi_init__ ran at startup, with the worker's (running) loop.
    assert s["state"] == {"init": s["state"]["init"], "loop_running": True}


def test_a_plain_callable_app(make_server):
    s = make_server("raw_rsgi:plain", interface="rsgi")
    assert get(s, "/scope").json()["state"] == {"plain": True}


def test_http2_scope_has_the_authority(make_server):
    s = make_server("raw_rsgi:app", interface="rsgi", args=["--http", "2"])
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", s.url + "/scope"],
                         capture_output=True, text=True, timeout=10).stdout
    scope = json.loads(out)
    assert scope["http_version"] == "2"
    assert scope["authority"] == f"127.0.0.1:{s.port}"


def test_response_methods(rsgi_server):
    r = get(rsgi_server, "/empty")
    assert (r.status_code, r.content, r.headers["x-kind"]) == (204, b"", "empty")
    r = get(rsgi_server, "/empty?status=200")
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "0")
    r = get(rsgi_server, "/str")
    assert (r.status_code, r.text, r.headers["content-length"]) == (200, "h\u00e9llo", "6")
    assert r.headers.raw[[k for k, _ in r.headers.raw].index(b"x-text")][1] == "caf\u00e9".encode()
    r = get(rsgi_server, "/bytes?size=5")
    assert r.content == b"\x00" * 5
    r = get(rsgi_server, f"/bytes?size={3 * MiB + 7}")  # over one frame: sent in window-sized parts
    assert r.content == bytes(range(256)) * (3 * MiB // 256) + b"\x00" * 7
    r = get(rsgi_server, "/cookies")
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]


def test_streamed_response_arrives_in_chunks(rsgi_server):
    with httpx.stream("GET", rsgi_server.url + "/stream?n=3&delay=0.3", timeout=10) as r:
        chunks = [c for c in r.iter_raw()]
    assert b"".join(chunks) == b"chunk 0\nchunk 1\nchunk 2\n"
    assert len(chunks) >= 2


def test_file_response_is_sent_whole_with_its_length(rsgi_server, files):
    path = files / "data.txt"
    r = get(rsgi_server, "/file", params={"path": str(path)})
    assert (r.status_code, r.content) == (200, b"0123456789abcdefghij")
    assert (r.headers["content-length"], r.headers["content-type"]) == ("20", "text/plain")
    big = files / "big.bin"
    r = get(rsgi_server, "/file", params={"path": str(big), "type": "application/octet-stream"})
    assert r.headers["content-length"] == str(12 * MiB)
    assert r.content == big.read_bytes()
    r = get(rsgi_server, "/file", params={"path": str(files / "caf\u00e9 file.txt")})
    assert r.content == b"non-ascii name"


def test_head_of_a_file_response(rsgi_server, files):
    r = httpx.head(rsgi_server.url + "/file", params={"path": str(files / "data.txt")})
    assert (r.status_code, r.headers["content-length"], r.content) == (200, "20", b"")


@pytest.mark.parametrize(
    "start, end, body",
    [(2, 5, b"234"), (0, 20, b"0123456789abcdefghij"), (15, 99, b"fghij"), (19, 20, b"j"), (25, 30, b"")],
)
def test_file_range_response(rsgi_server, files, start, end, body):
    r = get(rsgi_server, "/file", params={"path": str(files / "data.txt"), "start": start, "end": end})
    assert r.status_code == 206
    assert r.content == body
    assert r.headers["content-length"] == str(len(body))


def test_file_range_of_a_large_file(rsgi_server, files):
    start, end = 5 * MiB + 3, 9 * MiB + 11
    r = get(rsgi_server, "/file", params={"path": str(files / "big.bin"), "start": start, "end": end})
    assert r.headers["content-length"] == str(end - start)
    assert r.content == (files / "big.bin").read_bytes()[start:end]


@pytest.mark.parametrize("start, end", [(5, 5), (6, 3), (-1, 3)])
def test_bad_range_raises_value_error_in_the_app(rsgi_server, files, start, end):
    r = get(rsgi_server, "/bad_range", params={"path": str(files / "data.txt"), "start": start, "end": end})
    assert (r.status_code, r.text) == (416, "Invalid range")


@pytest.mark.parametrize("name", ["missing.txt", ""])
def test_missing_file_or_a_directory_is_404(rsgi_server, files, name):
    path = str(files / name) if name else str(files)
    r = get(rsgi_server, "/file", params={"path": path})
    assert (r.status_code, r.text) == (404, "Not found")
    assert rsgi_server.wait_for_log(f"{path} is not a file (answered 404)")
    assert get(rsgi_server, "/str").status_code == 200


def test_relative_file_path_is_the_working_directory(rsgi_server):
    r = get(rsgi_server, "/file", params={"path": "raw_rsgi.py"})  # the app's own file, in --working-dir
    assert r.status_code == 200 and b"A raw RSGI app" in r.content


def test_exception_before_response_is_500_with_traceback(rsgi_server):
    r = get(rsgi_server, "/raise")
    assert (r.status_code, r.text) == (500, "Internal server error")
    assert rsgi_server.wait_for_log("boom before the response")
    assert "Traceback" in rsgi_server.log and "Exception in RSGI application" in rsgi_server.log


def test_exception_after_stream_start_drops_the_connection(rsgi_server):
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        with httpx.stream("GET", rsgi_server.url + "/raise_after_stream", timeout=10) as r:
            assert r.status_code == 200
            r.read()
    assert rsgi_server.wait_for_log("boom after the head")
    assert get(rsgi_server, "/str").status_code == 200


@pytest.mark.parametrize("path", ["/noresp", "/badstatus"])
def test_no_response_or_a_bad_status_is_500(rsgi_server, path):
    assert get(rsgi_server, path).status_code == 500


def test_rsgi_del_runs_at_shutdown(tmp_path):
    del_file = tmp_path / "del.log"
    s = Server("raw_rsgi:app", interface="rsgi", args=["--workers", "2"], env={"RAW_RSGI_DEL_FILE": str(del_file)}).start()
    try:
        assert get(s, "/str").status_code == 200
    finally:
        assert s.stop() == 0
    assert sorted(line.split()[0] for line in del_file.read_text().splitlines()) == ["del", "del"]

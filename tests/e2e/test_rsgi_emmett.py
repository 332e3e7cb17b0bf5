"""A real RSGI framework: Emmett served with `--interface rsgi`, routes, JSON and static files."""
import httpx
import pytest

from _server import APPS, Server

SITE = APPS / "emmett_site"


@pytest.fixture(scope="module")
def emmett_server():
    s = Server("app:app", interface="rsgi", cwd=SITE).start()
    yield s
    s.stop()


def test_plain_route(emmett_server):
    r = httpx.get(emmett_server.url + "/")
    assert (r.status_code, r.text) == (200, "hello from emmett")


def test_json_route_with_path_and_query_params(emmett_server):
    r = httpx.get(emmett_server.url + "/items/42?q=caf%C3%A9")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"id": 42, "q": "caf\u00e9", "host": f"127.0.0.1:{emmett_server.port}"}


def test_json_body(emmett_server):
    r = httpx.post(emmett_server.url + "/echo", json={"a": 1, "b": "x"})
    assert r.json() == {"got": {"a": 1, "b": "x"}, "method": "POST"}


def test_unknown_route_is_404(emmett_server):
    assert httpx.get(emmett_server.url + "/nope").status_code == 404


def test_static_file_goes_through_response_file(emmett_server):
    r = httpx.get(emmett_server.url + "/static/hello.txt")
    assert r.status_code == 200
    assert r.content == (SITE / "static" / "hello.txt").read_bytes()
    assert r.headers["content-length"] == str(len(r.content))


def test_static_file_range_goes_through_response_file_range(emmett_server):
    data = (SITE / "static" / "hello.txt").read_bytes()
    r = httpx.get(emmett_server.url + "/static/hello.txt", headers={"range": "bytes=2-5"})
    assert r.status_code == 206
    assert r.content == data[2:6]
    assert r.headers["content-range"] == f"bytes 2-5/{len(data)}"
    assert r.headers["content-length"] == "4"

"""The ASGI pathsend extension end to end: Bun sends the file, from a raw app and from Starlette."""
import httpx
import pytest

from _server import Server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pathsend")
    (d / "data.txt").write_bytes(b"0123456789abcdefghij")
    (d / "big.bin").write_bytes(bytes(range(256)) * (3 * MiB // 256) + b"end")
    return d


@pytest.fixture(scope="module")
def raw(files):
    s = Server("pathsend_asgi:app", interface="asginl").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def starlette(files):
    s = Server("starlette_files:app", env={"STARLETTE_FILES_DIR": str(files)}).start()
    yield s
    s.stop()


def test_the_extension_is_advertised(raw):
    assert httpx.get(raw.url + "/extensions").text == "['http.response.pathsend']"


@pytest.mark.parametrize("late", ["", "1"])
def test_raw_pathsend(raw, files, late):
    big = files / "big.bin"
    r = httpx.get(raw.url + "/send", params={"path": str(big), "late": late}, timeout=30)
    assert (r.status_code, r.content) == (200, big.read_bytes())
    if not late:  # Bun sent the file: its exact length (a late one streams chunked)
        assert r.headers["content-length"] == str(big.stat().st_size)


def test_raw_pathsend_of_a_missing_file_is_404(raw, files):
    r = httpx.get(raw.url + "/send", params={"path": str(files / "nope")})
    assert (r.status_code, r.text) == (404, "Not found")


def test_starlette_file_response(starlette, files):
    r = httpx.get(starlette.url + "/download/big.bin", timeout=30)
    assert r.status_code == 200
    assert r.content == (files / "big.bin").read_bytes()
    assert r.headers["content-length"] == str(3 * MiB + 3)
    assert r.headers["content-disposition"] == 'attachment; filename="report.bin"'


def test_starlette_static_files(starlette, files):
    r = httpx.get(starlette.url + "/static/data.txt")
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"0123456789abcdefghij", "20")
    assert r.headers["content-type"].startswith("text/plain")
    assert httpx.get(starlette.url + "/static/nope.txt").status_code == 404


def test_starlette_range_request_still_works(starlette, files):
    # Starlette answers ranges itself with body messages (no pathsend for them).
    r = httpx.get(starlette.url + "/static/data.txt", headers={"range": "bytes=3-6"})
    assert (r.status_code, r.content) == (206, b"3456")

"""Static files served by Bun before the app (--static-path-*), against a real server."""
import gzip
import os
import subprocess
import threading
import time

import httpx
import pytest

from _server import Server, raw_request

SECRET = b"top secret outside the mount"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    pub = root / "pub"
    (pub / "sub").mkdir(parents=True)
    (pub / "empty-dir").mkdir()
    (root / "secret.txt").write_bytes(SECRET)
    (root / "pubx").mkdir()
    (root / "pubx" / "sibling.txt").write_bytes(SECRET)
    (pub / "a.css").write_bytes(b"body { color: red }\n" * 50)
    (pub / "a.css.gz").write_bytes(gzip.compress((pub / "a.css").read_bytes()))
    (pub / "a.css.br").write_bytes(b"pretend-brotli")
    (pub / "data.bin").write_bytes(bytes(range(256)) * 4)
    (pub / "sub" / "index.html").write_bytes(b"<h1>index</h1>")
    (pub / "odd name %.txt").write_bytes(b"odd")
    (pub / "link-out.txt").symlink_to(root / "secret.txt")
    (pub / "link-dir-out").symlink_to(root)
    (pub / "link-in.txt").symlink_to(pub / "data.bin")
    (pub / "a.js").write_bytes(b"js plain")
    (pub / "a.js.gz").symlink_to(root / "secret.txt")  # a precompressed sibling leading out
    other = root / "other"
    other.mkdir()
    (other / "o.txt").write_bytes(b"other mount")
    with open(root / "huge.bin", "wb") as f:  # sparse: 1 GiB of holes
        f.truncate(1 << 30)
    (pub / "big").mkdir()
    os.rename(root / "huge.bin", pub / "big" / "huge.bin")
    return root


@pytest.fixture(scope="module")
def server(tree):
    s = Server("raw_asgi:app", args=[
        "--static-path-route", "/static", "--static-path-mount", str(tree / "pub"),
        "--static-path-route", "/assets/v2", "--static-path-mount", str(tree / "other"),
        "--static-path-dir-to-file", "index.html", "--static-path-expires", "1h30m",
    ]).start()
    yield s
    s.stop()


def get(server, path, **headers):
    return raw(server, "GET", path, **headers)


def raw(server, method, path, **headers):
    """A request with the path sent exactly as given (no client-side normalisation)."""
    head = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    data = raw_request(server.port, f"{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{head}\r\n".encode())
    status_line, _, rest = data.partition(b"\r\n")
    head_bytes, _, body = rest.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head_bytes.split(b"\r\n"):
        k, _, v = line.decode("latin-1").partition(":")
        hdrs.setdefault(k.strip().lower(), v.strip())
    return int(status_line.split()[1]), hdrs, body


TRAVERSALS = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/.%2e/secret.txt",
    "/static/%2e./secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%2Fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..%5Csecret.txt",
    "/static/%2e%2e%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/%252e%252e%252fsecret.txt",
    "/static/..%252fsecret.txt",
    "/static/sub/../../secret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
    "/static/sub%2f..%2f..%2fsecret.txt",
    "/static//../secret.txt",
    "/static/%2f..%2fsecret.txt",
    "/static/" + str("/etc/passwd"),
    "/static/%2fetc%2fpasswd",
    "/static/secret.txt%00.css",
    "/static/a.css%00",
    "/static/%00",
    "/static/link-out.txt",
    "/static/link-dir-out/secret.txt",
    "/static/link-dir-out/pubx/sibling.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/%uff0e%uff0e/secret.txt",
    "/static/..;/secret.txt",
    "/static/%2e%2e;/secret.txt",
    "/staticx/../secret.txt",
    "/static/../pubx/sibling.txt",
    "/static/%2e%2e/pubx/sibling.txt",
    "/static/.%2e/.%2e/.%2e/.%2e/etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_404_never_the_file(server, path):
    status, _, body = get(server, path)
    assert status in (400, 404), (path, status)
    assert SECRET not in body and b"root:" not in body


def test_traversal_count():
    assert len(TRAVERSALS) >= 25


def test_file_with_headers(server):
    r = httpx.get(server.url + "/static/a.css", headers={"accept-encoding": "identity"})
    assert r.status_code == 200
    assert r.content == b"body { color: red }\n" * 50
    assert r.headers["content-type"].startswith("text/css")
    assert r.headers["cache-control"] == "max-age=5400"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["vary"].lower() == "accept-encoding"
    assert r.headers["etag"].startswith('"')
    assert r.headers["last-modified"].endswith("GMT")
    assert "content-encoding" not in r.headers


def test_encoded_name_and_symlink_inside(server):
    assert httpx.get(server.url + "/static/odd%20name%20%25.txt").content == b"odd"
    assert httpx.get(server.url + "/static/link-in.txt").content == bytes(range(256)) * 4


def test_second_route_mount_pair(server):
    r = httpx.get(server.url + "/assets/v2/o.txt")
    assert r.status_code == 200 and r.content == b"other mount"
    # each route serves its own mount only
    assert httpx.get(server.url + "/static/o.txt").status_code == 404
    assert httpx.get(server.url + "/assets/v2/a.css").status_code == 404


def test_misses(server):
    # Under a route, a missing file or a directory without its index is a 404 from Bun (as Granian)...
    for path in ("/static/nope.css", "/static/empty-dir", "/static/empty-dir/"):
        status, headers, body = get(server, path)
        assert (status, body) == (404, b"Not found"), path
    # ...a path that is not a file system path there (ENOTDIR) and any other path reach the app.
    for path in ("/static/a.css/more", "/staticx/a.css", "/scope", "/assets/v2x/o.txt"):
        r = httpx.get(server.url + path)
        if path == "/scope":
            assert r.status_code == 200 and r.json()["path"] == "/scope"
        else:
            assert r.headers["content-type"] == "application/json", path


def test_dir_to_file(server):
    for path in ("/static/sub", "/static/sub/"):
        r = httpx.get(server.url + path)
        assert r.status_code == 200 and r.content == b"<h1>index</h1>"
        assert r.headers["content-type"].startswith("text/html")


def test_conditional_304(server):
    r = httpx.get(server.url + "/static/a.css")
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    for headers in ({"if-none-match": etag}, {"if-none-match": f'"x", W/{etag}'}, {"if-none-match": "*"},
                    {"if-modified-since": lm}):
        c = httpx.get(server.url + "/static/a.css", headers=headers)
        assert c.status_code == 304, headers
        assert c.content == b"" and c.headers["etag"] == etag
    # a different tag, or an older date, gets the file
    assert httpx.get(server.url + "/static/a.css", headers={"if-none-match": '"other"'}).status_code == 200
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert httpx.get(server.url + "/static/a.css", headers={"if-modified-since": old}).status_code == 200
    # If-None-Match wins over If-Modified-Since
    assert httpx.get(server.url + "/static/a.css", headers={"if-none-match": '"other"', "if-modified-since": lm}).status_code == 200


def test_ranges(server):
    data = bytes(range(256)) * 4
    url = server.url + "/static/data.bin"
    cases = {"bytes=0-9": (0, 9), "bytes=1000-": (1000, 1023), "bytes=-24": (1000, 1023), "bytes=10-5000": (10, 1023)}
    for rng, (a, b) in cases.items():
        r = httpx.get(url, headers={"range": rng})
        assert r.status_code == 206, rng
        assert r.content == data[a:b + 1]
        assert r.headers["content-range"] == f"bytes {a}-{b}/1024"
        assert r.headers["content-length"] == str(b - a + 1)
    for rng in ("bytes=1024-", "bytes=5000-6000", "bytes=-0"):
        r = httpx.get(url, headers={"range": rng})
        assert r.status_code == 416, rng
        assert r.headers["content-range"] == "bytes */1024"
    # many ranges, other units and bad syntax: the whole file (RFC 9110 lets a server ignore Range)
    for rng in ("bytes=0-1,5-6", "items=0-1", "bytes=9-2", "bytes=x"):
        r = httpx.get(url, headers={"range": rng})
        assert r.status_code == 200 and r.content == data, rng
    # If-Range: a stale validator gets the whole file, a current one the range
    etag = httpx.get(url).headers["etag"]
    assert httpx.get(url, headers={"range": "bytes=0-1", "if-range": etag}).status_code == 206
    assert httpx.get(url, headers={"range": "bytes=0-1", "if-range": '"stale"'}).status_code == 200


def test_head(server):
    status, headers, body = raw(server, "HEAD", "/static/data.bin")
    assert status == 200 and body == b""
    assert headers["content-length"] == "1024"
    assert "etag" in headers


def test_other_methods(server):
    r = httpx.post(server.url + "/static/a.css", content=b"x")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_precompressed(server):
    url = server.url + "/static/a.css"
    plain = httpx.get(url, headers={"accept-encoding": "identity"})
    gz = httpx.get(url, headers={"accept-encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and gz.content == plain.content  # httpx decodes it
    assert gz.headers["vary"].lower() == "accept-encoding"
    assert gz.headers["content-type"] == plain.headers["content-type"]
    assert gz.headers["etag"] != plain.headers["etag"]
    # equal q: the client's order decides, as in Granian
    status, headers, body = get(server, "/static/a.css", accept_encoding="br, gzip")
    assert headers["content-encoding"] == "br" and body == b"pretend-brotli"
    status, headers, body = get(server, "/static/a.css", accept_encoding="gzip, br")
    assert headers["content-encoding"] == "gzip"
    status, headers, body = get(server, "/static/a.css", accept_encoding="br;q=0.5, gzip;q=0.9")
    assert headers["content-encoding"] == "gzip"
    status, headers, body = get(server, "/static/a.css", accept_encoding="*, br;q=0")
    assert headers["content-encoding"] == "gzip"
    # a sibling that is a symlink out of the mount is never served
    status, headers, body = get(server, "/static/a.js", accept_encoding="gzip")
    assert status == 200 and body == b"js plain" and "content-encoding" not in headers


def test_huge_sparse_file_flat_memory(server):
    before = server.rss_kib()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_kib())
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    total = 0
    try:
        with httpx.stream("GET", server.url + "/static/big/huge.bin", timeout=120) as r:
            assert r.status_code == 200
            assert r.headers["content-length"] == str(1 << 30)
            for chunk in r.iter_raw(1 << 20):
                total += len(chunk)
    finally:
        done.set()
        t.join()
    assert total == 1 << 30
    grown_mib = (peak[0] - before) / 1024
    assert grown_mib < 64, f"server grew {grown_mib:.0f} MiB serving a 1 GiB file"


def test_bad_static_options(tree):
    cases = [
        (["--static-path-mount", str(tree / "nope")], "--static-path-mount"),
        (["--static-path-mount", str(tree / "secret.txt")], "--static-path-mount"),
        (["--static-path-mount", str(tree / "pub"), "--static-path-mount", str(tree / "other")], "--static-path-route"),
        (["--static-path-mount", str(tree / "pub"), "--static-path-expires", "soon"], "--static-path-expires"),
    ]
    for args, name in cases:
        s = Server("raw_asgi:app", args=args)
        p = subprocess.run(s.argv, capture_output=True, text=True, timeout=30)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert name in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_default_route_and_env(tree, make_server):
    s = make_server("raw_asgi:app", env={"GRANIAN_STATIC_PATH_MOUNT": str(tree / "pub"), "GRANIAN_STATIC_PATH_EXPIRES": "0"})
    r = httpx.get(s.url + "/static/a.css")
    assert r.status_code == 200 and "cache-control" not in r.headers
    assert httpx.get(s.url + "/static/sub/").status_code == 404  # no dir-to-file here

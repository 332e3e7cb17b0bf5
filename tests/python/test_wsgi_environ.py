"""The PEP 3333 environ, built from REQUEST frames (no socket)."""

import json
import sys

from granian_ts.interfaces.wsgi import FileWrapper, WSGIInput
from wsgi_fakes import json_app, serve_wsgi  # noqa: F401 (fixture)

SEEN = []


def capture(environ, start_response):
    SEEN.append(environ)
    start_response("200 OK", [])
    return [b""]


async def environ_of(serve_wsgi, options=None, **head):
    SEEN.clear()
    bun = await serve_wsgi(capture, **(options or {}))
    bun.request(**head)
    await bun.response()
    return SEEN[0]


async def test_every_pep3333_key(serve_wsgi):
    environ = await environ_of(
        serve_wsgi,
        {"server_host": "0.0.0.0", "server_port": 8123},
        method="POST",
        path="/a/b",
        query="x=1&y=%20z",
        headers=[("host", "example.org"), ("content-type", "text/plain"), ("content-length", "0"), ("x-custom", "v")],
        client=("10.1.2.3", 40404),
    )
    assert {k: v for k, v in environ.items() if k not in ("wsgi.input", "wsgi.errors")} == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/a/b",
        "QUERY_STRING": "x=1&y=%20z",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "0",
        "SERVER_NAME": "0.0.0.0",
        "SERVER_PORT": "8123",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.1.2.3",
        "REMOTE_PORT": "40404",
        "HTTP_HOST": "example.org",
        "HTTP_X_CUSTOM": "v",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
    }
    assert isinstance(environ["wsgi.input"], WSGIInput)
    assert environ["wsgi.errors"] is sys.stderr
    # every value is a native str except the wsgi.* ones (PEP 3333, "environ variables")
    assert all(type(v) is str for k, v in environ.items() if not k.startswith("wsgi."))


async def test_content_type_and_length_are_not_duplicated_as_http_keys(serve_wsgi):
    environ = await environ_of(serve_wsgi, headers=[("content-type", "a/b"), ("content-length", "3")])
    assert "HTTP_CONTENT_TYPE" not in environ and "HTTP_CONTENT_LENGTH" not in environ
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("a/b", "3")


async def test_no_content_headers_means_no_content_keys(serve_wsgi):
    environ = await environ_of(serve_wsgi)
    assert "CONTENT_TYPE" not in environ and "CONTENT_LENGTH" not in environ


async def test_path_info_is_percent_decoded_as_latin1(serve_wsgi):
    environ = await environ_of(serve_wsgi, path="/caf%C3%A9/a%2Fb/%ff")
    # The bytes of the decoded path, one latin-1 code point each: apps re-encode to get UTF-8.
    assert environ["PATH_INFO"] == "/caf\u00c3\u00a9/a/b/\u00ff"
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace").startswith("/caf\u00e9/")


async def test_script_name_is_the_root_path_stripped_from_path_info(serve_wsgi):
    environ = await environ_of(serve_wsgi, {"root_path": "/app"}, path="/app/users/1")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/app", "/users/1")
    environ = await environ_of(serve_wsgi, {"root_path": "/app/"}, path="/app")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/app", "")


async def test_a_path_outside_the_root_path_is_left_alone(serve_wsgi):
    # Not a prefix at a segment boundary, or a proxy that already removed the prefix.
    environ = await environ_of(serve_wsgi, {"root_path": "/app"}, path="/application")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/app", "/application")
    environ = await environ_of(serve_wsgi, {"root_path": "/"}, path="/x")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("", "/x")


async def test_header_names_become_http_keys(serve_wsgi):
    environ = await environ_of(serve_wsgi, headers=[("x-forwarded-for", "1.2.3.4"), ("accept-encoding", "gzip, br")])
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"
    assert environ["HTTP_ACCEPT_ENCODING"] == "gzip, br"  # Bun merges repeated headers with ", "


async def test_header_names_with_underscores_are_dropped(serve_wsgi):
    # x_a_b would forge HTTP_X_A_B, the key of x-a-b (a proxy's header): dropped, as gunicorn does.
    environ = await environ_of(serve_wsgi, headers=[("x-a-b", "dash"), ("x_a_b", "underscore"), ("x_only", "u")])
    assert environ["HTTP_X_A_B"] == "dash"
    assert "HTTP_X_ONLY" not in environ


async def test_header_values_are_latin1_text(serve_wsgi):
    # Bun sends header bytes as latin-1 code points in UTF-8 (docs/protocol.md, text fields).
    environ = await environ_of(serve_wsgi, headers=[("x-latin", "caf\u00e9")])
    assert environ["HTTP_X_LATIN"] == "caf\u00e9"


async def test_cookies_arrive_as_bun_merged_them(serve_wsgi):
    environ = await environ_of(serve_wsgi, headers=[("cookie", "a=1; b=2")])
    assert environ["HTTP_COOKIE"] == "a=1; b=2"



async def test_repeated_headers_are_joined_as_granian_joins_them(serve_wsgi):
    # Granian's WSGI: "one,two" (no space) and cookies "a=1;b=2"; the last one used to win.
    environ = await environ_of(
        serve_wsgi,
        headers=[("x-dup", "one"), ("cookie", "a=1"), ("x-dup", "two"), ("cookie", "b=2"), ("x-dup", "1")],
    )
    assert environ["HTTP_X_DUP"] == "one,two,1"
    assert environ["HTTP_COOKIE"] == "a=1;b=2"

async def test_scheme_and_protocol(serve_wsgi):
    environ = await environ_of(serve_wsgi, scheme="https")
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"


async def test_each_request_gets_its_own_environ(serve_wsgi):
    bun = await serve_wsgi(json_app(lambda environ: [environ["QUERY_STRING"], environ["PATH_INFO"]]))
    for i in range(1, 6):
        bun.request(stream=i, path=f"/p{i}", query=f"i={i}")
    for i in range(1, 6):
        assert json.loads((await bun.response(i)).body) == [f"i={i}", f"/p{i}"]

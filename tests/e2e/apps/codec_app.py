"""What a request looks like to the app under either frame codec (--speedups, tests/e2e/test_codec.py)."""
import json

from granian_ts import protocol


def codec():
    return "C" if protocol.speedups is not None else "pure"


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({
        "codec": codec(),
        "method": scope["method"],
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query_string": scope["query_string"].decode("latin-1"),
        "client_host": scope["client"][0],
        "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
    }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"x-latin", b"\xe9t\xe9")]})
    await send({"type": "http.response.body", "body": body})


class RSGIApp:
    async def __call__(self, scope, proto):
        body = json.dumps({"codec": codec(), "method": scope.method, "path": scope.path, "query_string": scope.query_string,
                           "headers": sorted([k, v] for k, v in scope.headers.items())})
        proto.response_str(200, [("content-type", "application/json"), ("x-text", "\u20ac")], body)


rsgi_app = RSGIApp()

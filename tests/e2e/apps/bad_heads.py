"""Apps that answer /bad with a response head HTTP cannot carry (a header name with a space, a
value with a newline, a status out of range) and everything else with "ok"
(tests/e2e/test_bad_response_heads.py). One per interface."""

BAD = {
    "/bad-name": (200, [("bad name", "v")]),
    "/bad-colon": (200, [("a:b", "v")]),
    "/bad-empty": (200, [("", "v")]),
    "/bad-value": (200, [("x-a", "one\r\ntwo")]),
    "/bad-status": (1000, []),
}


def _head(path):
    return BAD.get(path, (200, [("content-type", "text/plain")]))


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    status, headers = _head(scope["path"])
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers]})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_app(environ, start_response):
    status, headers = _head(environ["PATH_INFO"])
    start_response(f"{status} X", headers)
    return [b"ok"]


class RSGIApp:
    def __rsgi__(self, scope, protocol):
        status, headers = _head(scope.path)
        return self._respond(protocol, status, headers)

    async def _respond(self, protocol, status, headers):
        protocol.response_bytes(status, headers, b"ok")


rsgi_app = RSGIApp()

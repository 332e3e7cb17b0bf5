"""What each interface tells the app about its connection: version, scheme, client, server."""
import asyncio
import json


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(_asgi_info(scope))})
        await send({"type": "websocket.close"})
        return
    if scope["path"] == "/sleep":  # a slow app: ?seconds
        await asyncio.sleep(float(scope["query_string"] or 0))
    body = json.dumps(_asgi_info(scope)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _asgi_info(scope):
    return {
        "http_version": scope["http_version"], "scheme": scope["scheme"],
        "client": scope["client"], "server": scope["server"],
    }


class _RSGI:
    def __rsgi__(self, scope, proto):
        info = {
            "http_version": scope.http_version, "scheme": scope.scheme,
            "client": scope.client, "server": scope.server,
        }
        proto.response_str(200, [("content-type", "application/json")], json.dumps(info))


rsgi = _RSGI()


def wsgi(environ, start_response):
    keys = ("SERVER_PROTOCOL", "wsgi.url_scheme", "REMOTE_ADDR", "REMOTE_PORT", "SERVER_NAME", "SERVER_PORT")
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps({k: environ.get(k) for k in keys}).encode()]

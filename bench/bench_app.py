"""The one app every server in the benchmark runs: raw ASGI, no framework, so the numbers
measure the server and not a router.

GET  /      -> 200, 1 KiB of b"x" (text/plain)
POST /echo  -> 200, the request body
GET  /wait  -> 200, 1 KiB of b"x" after waiting 1 ms, as for a query or an HTTP call
lifespan    -> startup and shutdown complete at once
"""

import asyncio

BODY = b"x" * 1024
GET_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"1024")]


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "http":
        path, method = scope["path"], scope["method"]
        if path == "/" and method == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": GET_HEADERS})
            await send({"type": "http.response.body", "body": BODY})
            return
        if path == "/wait" and method == "GET":
            await asyncio.sleep(0.001)
            await send({"type": "http.response.start", "status": 200, "headers": GET_HEADERS})
            await send({"type": "http.response.body", "body": BODY})
            return
        if path == "/echo" and method == "POST":
            chunks = []
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            headers = [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
    elif kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

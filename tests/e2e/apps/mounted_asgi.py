"""An ASGI app that reports where it thinks it is and which worker answered (tests/e2e/handler.test.ts,
test_deploy_nginx.py); also on a Unix socket, where there is no client address."""
import asyncio
import json
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    where = {
        "path": scope["path"],
        "root_path": scope["root_path"],
        "query_string": scope["query_string"].decode(),
        "client": scope["client"][0] if scope["client"] else None,
        "pid": os.getpid(),
    }
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(where)})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": "echo: " + message["text"]})
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    query = dict(p.split("=") for p in where["query_string"].split("&") if p)
    if scope["path"].endswith("/slow"):
        await asyncio.sleep(float(query.get("delay", 1)))
    if scope["path"].endswith("/stream"):
        # Started, then in flight for n * delay seconds (tests/e2e/test_deploy_nginx.py).
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(int(query.get("n", 4))):
            await send({"type": "http.response.body", "body": f"chunk {i}\n".encode(), "more_body": True})
            await asyncio.sleep(float(query.get("delay", 0.1)))
        return await send({"type": "http.response.body", "body": b""})
    where["body_bytes"] = len(body)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(where).encode()})

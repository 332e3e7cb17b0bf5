"""A raw ASGI app exercising websockets (tests/e2e/test_websocket_asgi.py)."""
import asyncio
import json
import os

# What the app saw, for the tests to ask over HTTP (GET /stats).
stats = {"disconnects": [], "sent": 0, "received": 0}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await receive()
        body = json.dumps(stats).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    assert (await receive())["type"] == "websocket.connect"
    handler = ROUTES.get(scope["path"])
    if handler is None:
        await send({"type": "websocket.close"})
        return
    await handler(scope, receive, send)


async def echo(scope, receive, send):
    subprotocols = scope["subprotocols"]
    await send({
        "type": "websocket.accept",
        "subprotocol": subprotocols[-1] if subprotocols else None,
        "headers": [(b"x-ws", b"yes")],
    })
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            stats["disconnects"].append(message["code"])
            return
        text = message.get("text")
        if text is not None and text.startswith("close:"):
            await send({"type": "websocket.close", "code": int(text[6:]), "reason": "bye"})
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def scope_route(scope, receive, send):
    await send({"type": "websocket.accept"})
    fields = {k: v for k, v in scope.items() if k not in ("headers", "raw_path", "query_string", "state")}
    fields["raw_path"] = scope["raw_path"].decode()
    fields["query_string"] = scope["query_string"].decode()
    fields["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
    fields["has_state"] = "state" in scope
    await send({"type": "websocket.send", "text": json.dumps(fields)})
    await send({"type": "websocket.close"})


async def deny(scope, receive, send):
    await send({"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-denied", b"1")]})
    await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
    await send({"type": "websocket.http.response.body", "body": b"entry"})


async def size(scope, receive, send):
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            stats["disconnects"].append(message["code"])
            return
        data = message.get("bytes") or message.get("text", "").encode()
        await send({"type": "websocket.send", "text": str(len(data))})


async def flood(scope, receive, send):
    """Sends 64 KiB messages as fast as the client takes them."""
    await send({"type": "websocket.accept"})
    chunk = b"x" * 65536
    try:
        while True:
            await send({"type": "websocket.send", "bytes": chunk})
            stats["sent"] += 1
    except OSError:
        stats["disconnects"].append("send-failed")


async def sink(scope, receive, send):
    """Reads one message per second: a slow consumer of what the client sends."""
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            stats["disconnects"].append(message["code"])
            return
        stats["received"] += 1
        await asyncio.sleep(1)


async def hold(scope, receive, send):
    """Accepts and waits for the client to go: its close code reaches the app."""
    await send({"type": "websocket.accept"})
    message = await receive()
    stats["disconnects"].append(message["code"])


async def die(scope, receive, send):
    """Accepts, then the whole worker process dies on the first message."""
    await send({"type": "websocket.accept"})
    await receive()
    os._exit(1)


async def boom(scope, receive, send):
    await send({"type": "websocket.accept"})
    raise RuntimeError("boom")


async def walk_away(scope, receive, send):
    """Returns without accepting or closing."""


async def boom_before_accept(scope, receive, send):
    raise RuntimeError("boom before accept")


ROUTES = {
    "/walk-away": walk_away,
    "/boom-before-accept": boom_before_accept,
    "/echo": echo,
    "/scope": scope_route,
    "/deny": deny,
    "/size": size,
    "/flood": flood,
    "/sink": sink,
    "/hold": hold,
    "/boom": boom,
    "/die": die,
}

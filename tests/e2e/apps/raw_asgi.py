"""A raw ASGI app that reports what the server gave it; the e2e tests drive its routes."""
import asyncio
import json
import os
import sys

import sniffio

DISCONNECTS = []
SHUTDOWN_FILE = os.environ.get("RAW_ASGI_SHUTDOWN_FILE")


def _latin(b):
    return b.decode("latin-1")


async def _json(send, obj, status=200):
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _read_all(receive):
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise ConnectionError("client went away")
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return chunks


async def lifespan(scope, receive, send):
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            scope["state"]["greeting"] = "hello from lifespan"
            scope["state"]["pid"] = os.getpid()
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            if SHUTDOWN_FILE:
                with open(SHUTDOWN_FILE, "a") as f:
                    f.write(f"shutdown {os.getpid()}\n")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    path = scope["path"]
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)

    if path.startswith("/scope"):
        await _read_all(receive)
        return await _json(send, {
            "type": scope["type"], "asgi": scope["asgi"], "http_version": scope["http_version"],
            "method": scope["method"], "scheme": scope["scheme"], "path": scope["path"],
            "raw_path": _latin(scope["raw_path"]), "query_string": _latin(scope["query_string"]),
            "root_path": scope["root_path"], "headers": [[_latin(k), _latin(v)] for k, v in scope["headers"]],
            "client": list(scope["client"]), "server": list(scope["server"]),
            "state": {k: v for k, v in scope.get("state", {}).items()}, "pid": os.getpid(),
            "has_state": "state" in scope,
        })
    if path == "/echo":
        body = b"".join(await _read_all(receive))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
        return await send({"type": "http.response.body", "body": body})
    if path == "/count":
        total = chunks = biggest = 0
        while True:
            msg = await receive()
            body = msg.get("body", b"")
            total += len(body)
            chunks += 1
            biggest = max(biggest, len(body))
            if query.get("slow"):
                await asyncio.sleep(float(query["slow"]))
            if not msg.get("more_body"):
                break
        return await _json(send, {"bytes": total, "messages": chunks, "biggest": biggest})
    if path == "/stream":
        n, delay = int(query.get("n", 5)), float(query.get("delay", 0.2))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": f"chunk {i}\n".encode(), "more_body": True})
            await asyncio.sleep(delay)
        return await send({"type": "http.response.body", "body": b""})
    if path == "/download":
        size, chunk = int(query.get("size", 1 << 20)), 64 * 1024
        block = b"d" * chunk
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", str(size).encode())]})
        sent = 0
        while sent < size:
            n = min(chunk, size - sent)
            sent += n
            await send({"type": "http.response.body", "body": block[:n], "more_body": sent < size})
        return
    if path == "/wait-disconnect":
        await _read_all(receive)
        msg = await receive()  # blocks until the client goes away
        DISCONNECTS.append(msg["type"])
        return
    if path == "/disconnects":
        await _read_all(receive)
        return await _json(send, DISCONNECTS)
    if path == "/error-before":
        raise RuntimeError("boom before the response")
    if path == "/error-after":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom after the response started")
    if path == "/no-response":
        return
    if path == "/unknown-message":
        try:
            await send({"type": "http.response.bogus"})
        except Exception as exc:  # the server must raise a clear error
            return await _json(send, {"error": f"{type(exc).__name__}: {exc}", "notes": getattr(exc, "__notes__", [])})
        return await _json(send, {"error": None})
    if path == "/unknown-message-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        try:
            await send({"type": "http.response.trailers", "headers": []})
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            error = "none"
        await send({"type": "http.response.body", "body": error.encode()})
        return
    if path == "/slow":
        await asyncio.sleep(float(query.get("delay", 0.5)))
        return await _json(send, {"slept": float(query.get("delay", 0.5))})
    if path == "/async-libs":
        lib = sniffio.current_async_library()
        value = await asyncio.wait_for(asyncio.sleep(0.01, result="waited"), timeout=1)
        task = asyncio.current_task()
        return await _json(send, {"sniffio": lib, "wait_for": value, "task": task is not None})
    if path == "/status":
        status = int(query.get("code", 200))
        await send({"type": "http.response.start", "status": status, "headers": [(b"x-status", str(status).encode())]})
        return await send({"type": "http.response.body", "body": b""})
    if path == "/cookies":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"x-latin", "caf\u00e9".encode("latin-1"))]})
        return await send({"type": "http.response.body", "body": b"ok"})
    if path == "/die":
        await _read_all(receive)
        sys.stderr.write("raw_asgi: dying on purpose\n")
        os._exit(17)
    await _json(send, {"error": "not found"}, status=404)

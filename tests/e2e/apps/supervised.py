"""An ASGI app for the supervision tests: it tells which worker answered, and misbehaves on request."""
import asyncio
import json
import os
import sys
import time

CRASH_AFTER = os.environ.get("SUPERVISED_CRASH_AFTER")  # seconds after startup: the worker dies
LEAK = []


async def _send(send, obj, status=200):
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _crash_later(delay):
    await asyncio.sleep(delay)
    print("RuntimeError: the app's background task crashed", flush=True, file=sys.stderr)
    os._exit(7)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                if CRASH_AFTER:
                    asyncio.get_running_loop().create_task(_crash_later(float(CRASH_AFTER)))
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    path = scope["path"]
    if path == "/block":  # blocks the worker's event loop, as a sync call in an async app does
        time.sleep(float(query.get("s", 5)))
    elif path == "/slow":
        if "tell" in query:  # a test waits for this line: the request is in the app
            print(f"slow request {query['tell']} started", flush=True, file=sys.stderr)
        await asyncio.sleep(float(query.get("s", 1)))
    elif path == "/leak":  # keeps memory the way a leaking app does
        LEAK.append(bytearray(int(query.get("mb", 1)) << 20))
    await _send(send, {"pid": os.getpid(), "worker": os.environ.get("GRANIAN_TS_WORKER_ID")})

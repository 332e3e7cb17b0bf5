"""What --gc-freeze leaves the app (python/granian_ts/worker.py, _freeze_heap): the objects it
had once loaded frozen, its start-up garbage collected first, its per-request cycles collected."""
import gc
import json
import weakref


class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it


def _cycle():
    node = Node()
    return weakref.ref(node)


# Garbage made while the app loads: gone before the freeze, never frozen alive.
STARTUP_GARBAGE = _cycle()


def report():
    # A cycle made by a request is still collected: freezing keeps nothing made after it.
    request_garbage = _cycle()
    gc.collect()
    return json.dumps({
        "frozen": gc.get_freeze_count(),
        "startup_garbage_alive": STARTUP_GARBAGE() is not None,
        "request_garbage_alive": request_garbage() is not None,
    }).encode()


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = report()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [report()]

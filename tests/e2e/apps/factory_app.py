"""--factory targets: `create` builds an ASGI app reporting the env the worker got."""
import json
import os

CALLS = []


def create():
    CALLS.append(1)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        keys = ("OPS_A", "OPS_B", "OPS_C", "OPS_D", "OPS_KEEP")
        body = json.dumps({"calls": len(CALLS), "env": {k: os.environ.get(k) for k in keys}}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


not_callable = 42


def broken():
    raise RuntimeError("no app today")

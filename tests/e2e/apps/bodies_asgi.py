"""Records what each request body looked like to the app (tests/e2e/test_request_bodies.py)."""
import json

RECORDS = []


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/records":
        body = json.dumps(RECORDS).encode()
        RECORDS.clear()
    else:
        size, outcome = 0, "complete"
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                outcome = "disconnect"
                break
            size += len(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        RECORDS.append([outcome, size])
        body = json.dumps({"bytes": size}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})

"""Raw ASGI apps that answer with the pathsend extension (the path comes in the query)."""
import asyncio
from urllib.parse import parse_qsl


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = dict(parse_qsl(scope["query_string"].decode()))
    if scope["path"] == "/extensions":
        body = repr(sorted(scope["extensions"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        return await send({"type": "http.response.body", "body": body})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    if query.get("late"):
        await asyncio.sleep(0.05)  # the head leaves before the path: the file follows as body chunks
    await send({"type": "http.response.pathsend", "path": query["path"]})

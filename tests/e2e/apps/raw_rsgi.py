"""A raw RSGI app that reports what the server gave it; the e2e tests drive its routes.

Served as `raw_rsgi:app` (an object with __rsgi__, __rsgi_init__ and __rsgi_del__) or
`raw_rsgi:plain` (a bare callable).
"""
import asyncio
import json
import os
from urllib.parse import parse_qsl

DEL_FILE = os.environ.get("RAW_RSGI_DEL_FILE")
EVENTS = []  # what happened to requests after their response (disconnects)


def _query(scope):
    return dict(parse_qsl(scope.query_string))


def _json(protocol, obj, status=200):
    protocol.response_str(status, [("content-type", "application/json")], json.dumps(obj))


async def serve(scope, protocol, state):
    path = scope.path
    query = _query(scope)

    if path.startswith("/scope"):
        body = await protocol()
        h = scope.headers
        return _json(protocol, {
            "proto": scope.proto, "rsgi_version": scope.rsgi_version, "http_version": scope.http_version,
            "server": scope.server, "client": scope.client, "scheme": scope.scheme, "method": scope.method,
            "path": scope.path, "query_string": scope.query_string, "authority": scope.authority,
            "headers": h.items(), "keys": h.keys(), "values": h.values(), "get": h.get("x-multi"),
            "get_missing": h.get("nope", "dflt"), "get_all": h.get_all("x-multi"), "contains": "X-Multi" in h,
            "len": len(h), "body": body.decode("latin-1"), "state": state, "pid": os.getpid(),
        })
    if path == "/echo":
        body = await protocol()
        return protocol.response_bytes(200, [("content-type", "application/octet-stream")], body)
    if path == "/count":
        total = chunks = biggest = 0
        async for chunk in protocol:
            total += len(chunk)
            chunks += 1
            biggest = max(biggest, len(chunk))
            if query.get("slow"):
                await asyncio.sleep(float(query["slow"]))
        return _json(protocol, {"bytes": total, "chunks": chunks, "biggest": biggest})
    if path == "/empty":
        return protocol.response_empty(int(query.get("status", 204)), [("x-kind", "empty")])
    if path == "/str":
        headers = [("content-type", "text/plain; charset=utf-8"), ("x-text", "caf\u00e9")]
        return protocol.response_str(200, headers, "h\u00e9llo")
    if path == "/bytes":
        size = int(query.get("size", 3))
        body = bytes(range(256)) * (size // 256) + b"\x00" * (size % 256)
        return protocol.response_bytes(200, [("content-type", "application/octet-stream")], body)
    if path == "/cookies":
        return protocol.response_empty(200, [("set-cookie", "a=1"), ("set-cookie", "b=2")])
    if path == "/file":
        headers = [("content-type", query.get("type", "text/plain"))]
        if "start" in query:
            return protocol.response_file_range(206, headers, query["path"], int(query["start"]), int(query["end"]))
        return protocol.response_file(200, headers, query["path"])
    if path == "/bad_range":
        try:
            protocol.response_file_range(206, [], query["path"], int(query["start"]), int(query["end"]))
        except ValueError as exc:
            return protocol.response_str(416, [], str(exc))
    if path == "/stream":
        transport = protocol.response_stream(200, [("content-type", "text/plain")])
        for i in range(int(query.get("n", 3))):
            await transport.send_str(f"chunk {i}\n")
            await asyncio.sleep(float(query.get("delay", 0)))
        return
    if path == "/download":
        size = int(query["size"])
        block = b"d" * (256 * 1024)
        transport = protocol.response_stream(200, [("content-type", "application/octet-stream")])
        sent = 0
        while sent < size:
            chunk = block[: size - sent]
            await transport.send_bytes(chunk)
            sent += len(chunk)
        return
    if path == "/wait_disconnect":
        transport = protocol.response_stream(200, [("content-type", "text/plain")])
        await transport.send_bytes(b"waiting\n")
        await protocol.client_disconnect()
        EVENTS.append("disconnected")
        try:
            await transport.send_bytes(b"too late")
        except RuntimeError as exc:  # RSGIProtocolClosed
            EVENTS.append(type(exc).__name__)
        return
    if path == "/events":
        return _json(protocol, EVENTS)
    if path == "/raise":
        raise ValueError("boom before the response")
    if path == "/raise_after_stream":
        transport = protocol.response_stream(200, [])
        await transport.send_bytes(b"partial")
        await asyncio.sleep(0.05)
        raise ValueError("boom after the head")
    if path == "/noresp":
        return
    if path == "/badstatus":
        return protocol.response_empty(99, [])
    protocol.response_str(404, [], "not found")


class App:
    def __init__(self):
        self.state = {}

    def __rsgi_init__(self, loop):
        self.state["init"] = type(loop).__name__
        self.state["loop_running"] = loop.is_running()

    def __rsgi_del__(self, loop):
        if DEL_FILE:
            with open(DEL_FILE, "a") as f:
                f.write(f"del {os.getpid()}\n")

    async def __rsgi__(self, scope, protocol):
        await serve(scope, protocol, self.state)


app = App()


async def plain(scope, protocol):
    await serve(scope, protocol, {"plain": True})

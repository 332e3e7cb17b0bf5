"""Apps that answer exactly what the test tells them to, good or bad, on ASGI, RSGI and WSGI.

Served as `bad_responses:asgi`, `bad_responses:rsgi` or `bad_responses:wsgi`. Routes:

- `/` → 200, the worker's pid as the body.
- `/spec?<urlsafe base64 of JSON>` → the response the spec describes (`decode_spec`), values
  the test chose at random included: a status of any type, header names and values as raw
  bytes (hex), a body of any type, sent in one piece or several, and with `tail` one more
  piece of a type the interface refuses, once the rest went out.

The spec travels in the query so that every interface reads it the same way, before any body.
"""
import asyncio
import base64
import json
import os
import time


def body_bytes(length, seed):
    """The body a spec of `length` bytes gets; the test computes the same bytes."""
    return bytes((i * 7 + seed) % 256 for i in range(length))


def _value(item, text):
    """A spec value: {"hex": ...} is raw bytes (latin-1 text for str interfaces), else JSON as is."""
    if isinstance(item, dict) and "hex" in item:
        raw = bytes.fromhex(item["hex"])
        return raw.decode("latin-1") if text else raw
    return item


def decode_spec(query, text):
    spec = json.loads(base64.urlsafe_b64decode(query))
    status = spec["status"]
    headers = [(_value(n, text), _value(v, text)) for n, v in spec["headers"]]
    kind = spec["body"]
    data = body_bytes(spec["length"], spec["seed"])
    if kind == "bytes":
        body = data
    elif kind == "bytearray":
        body = bytearray(data)
    elif kind == "memoryview":
        body = memoryview(data)
    elif kind == "str":
        body = data.decode("latin-1")
    elif kind == "int":
        body = len(data)
    elif kind == "none":
        body = None
    else:  # "list" of ints
        body = list(data)
    return status, headers, body, spec["chunks"], spec.get("tail", False)


def _pieces(body, chunks):
    """`body` cut in `chunks` pieces of its own type (or the one odd body, whole)."""
    if chunks <= 1 or not isinstance(body, (bytes, bytearray, memoryview, str)):
        return [body]
    step = max(1, -(-len(body) // chunks))
    return [body[i : i + step] for i in range(0, len(body), step)] or [body]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] != "/spec":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
        return
    status, headers, body, chunks, tail = decode_spec(scope["query_string"], False)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    pieces = _pieces(body, chunks)
    for index, piece in enumerate(pieces):
        await send({"type": "http.response.body", "body": piece, "more_body": tail or index < len(pieces) - 1})
    if tail:
        await asyncio.sleep(0.01)  # what went so far is on the wire
        await send({"type": "http.response.body", "body": "not bytes"})


class _RSGI:
    def __rsgi_init__(self, loop):
        pass

    def __rsgi_del__(self, loop):
        pass

    async def __rsgi__(self, scope, protocol):
        if scope.path != "/spec":
            protocol.response_str(200, [("content-type", "text/plain")], str(os.getpid()))
            return
        status, headers, body, chunks, tail = decode_spec(scope.query_string, True)
        if chunks <= 1 and not tail:
            if isinstance(body, str):
                protocol.response_str(status, headers, body)
            else:
                protocol.response_bytes(status, headers, body)
            return
        transport = protocol.response_stream(status, headers)
        for piece in _pieces(body, chunks):
            if isinstance(piece, str):
                await transport.send_str(piece)
            else:
                await transport.send_bytes(piece)
        if tail:
            await asyncio.sleep(0.01)
            await transport.send_bytes(5)


rsgi = _RSGI()


def wsgi(environ, start_response):
    if environ["PATH_INFO"] != "/spec":
        start_response("200 OK", [("content-type", "text/plain")])
        return [str(os.getpid()).encode()]
    status, headers, body, chunks, tail = decode_spec(environ["QUERY_STRING"], True)
    # WSGI's status is a line: an int becomes "200 OK"; anything else goes as it is.
    start_response(f"{status} OK" if type(status) is int else status, headers)
    if not tail:
        return _pieces(body, chunks)

    def with_tail():
        yield from _pieces(body, chunks)
        time.sleep(0.01)
        yield 5

    return with_tail()

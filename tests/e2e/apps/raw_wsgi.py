"""A raw WSGI app that reports what the server gave it; tests/e2e/test_wsgi*.py drive its routes."""
import hashlib
import json
import os
import sys
import tempfile
import threading
import time

EVENTS = []  # what happened out of band (close() calls), for /events
_events_lock = threading.Lock()


def _event(text):
    with _events_lock:
        EVENTS.append(text)


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _query(environ):
    return dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)


class Tracked:
    """A response iterable that records its close() (PEP 3333: always called)."""

    def __init__(self, name, chunks):
        self.name = name
        self.chunks = chunks
        self.sent = 0

    def __iter__(self):
        for chunk in self.chunks:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        _event(f"closed {self.name} after {self.sent}")


def _describe(environ):
    out = {}
    for key, value in environ.items():
        if key == "wsgi.input":
            out[key] = type(value).__name__
        elif key == "wsgi.errors":
            out[key] = getattr(value, "name", type(value).__name__)
        elif key == "wsgi.file_wrapper":
            out[key] = callable(value)
        elif isinstance(value, (str, bool, int, tuple)) or value is None:
            out[key] = value
        else:
            out[key] = repr(value)
    return out


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = _query(environ)
    stream = environ["wsgi.input"]

    if path.startswith("/environ"):
        body = stream.read()
        info = _describe(environ)
        info["body"] = body.decode("latin-1")
        info["pid"] = os.getpid()
        info["thread"] = threading.current_thread().name
        return _json(start_response, info)

    if path == "/echo":
        body = stream.read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))])
        return [body]

    if path == "/count":
        # Reads the body as it streams in, holding one block at a time.
        size = int(query.get("block", 65536))
        delay = float(query.get("slow", 0))
        total = reads = biggest = 0
        digest = hashlib.sha256()
        while True:
            block = stream.read(size)
            if not block:
                break
            total += len(block)
            reads += 1
            biggest = max(biggest, len(block))
            digest.update(block)
            if delay:
                time.sleep(delay)
        return _json(start_response, {"bytes": total, "reads": reads, "biggest": biggest, "sha256": digest.hexdigest()})

    if path == "/lines":
        how = query.get("how", "iter")
        if how == "iter":
            lines = [line.decode() for line in stream]
        elif how == "readlines":
            lines = [line.decode() for line in stream.readlines()]
        else:  # readline with a size limit, then a plain read of the rest
            lines = [stream.readline(int(query.get("limit", 4))).decode(), stream.readline().decode(), stream.read().decode()]
        return _json(start_response, lines)

    if path == "/read-sizes":
        sizes = [int(s) for s in query["sizes"].split(",")]
        return _json(start_response, [stream.read(n).decode() for n in sizes])

    if path == "/stream":
        n, delay = int(query.get("n", 5)), float(query.get("delay", 0.2))

        def gen():
            for i in range(n):
                yield f"chunk {i}\n".encode()
                time.sleep(delay)

        start_response("200 OK", [("Content-Type", "text/plain")])
        return Tracked(query.get("name", "stream"), gen())

    if path == "/download":
        size, block = int(query.get("size", 1 << 20)), int(query.get("block", 65536))
        data = b"d" * block

        def gen():
            sent = 0
            while sent < size:
                n = min(block, size - sent)
                sent += n
                yield data[:n]

        headers = [("Content-Type", "application/octet-stream")]
        if query.get("length", "1") == "1":
            headers.append(("Content-Length", str(size)))
        start_response("200 OK", headers)
        return Tracked(query.get("name", "download"), gen())

    if path == "/chunks":
        # A list of several chunks: sent as one frame, content-length computed by the app.
        parts = [b"alpha-", b"beta-", b"gamma"]
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(sum(map(len, parts))))])
        return parts

    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written-")
        write(bytearray(b"bytearray-"))
        return Tracked("write", iter([b"", b"iterated"]))

    if path == "/file":
        size = int(query.get("size", 300000))
        f = tempfile.TemporaryFile()
        f.write(bytes(i % 256 for i in range(256)) * (size // 256) + b"z" * (size % 256))
        f.seek(0)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](f, 4096)

    if path == "/slow":
        delay = float(query.get("delay", 1))
        t0 = time.monotonic()
        time.sleep(delay)
        return _json(start_response, {"thread": threading.current_thread().name, "start": t0, "end": time.monotonic()})

    if path == "/status":
        code = query.get("code", "200")
        start_response(f"{code} Whatever", [("X-Status", code)])
        return [b""]

    if path == "/cookies":
        start_response("200 OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Latin", "caf\u00e9")])
        return [b"ok"]

    if path == "/error-before":
        raise RuntimeError("boom before the response")

    if path == "/error-after":
        def gen():
            yield b"partial"
            time.sleep(0.05)
            raise RuntimeError("boom after the response started")

        start_response("200 OK", [("Content-Type", "text/plain")])
        return Tracked("error-after", gen())

    if path == "/error-in-generator-start":
        def gen():
            raise RuntimeError("boom in the first iteration")
            yield b"never"

        start_response("200 OK", [])
        return Tracked("error-start", gen())

    if path == "/no-start-response":
        return [b"body without a status"]

    if path == "/bad-status":
        start_response(query.get("status", "OK"), [])
        return [b"x"]

    if path == "/bad-header":
        start_response("200 OK", [("X Bad Name", "v")])
        return [b"x"]

    if path == "/bad-header-value":
        start_response("200 OK", [("X-Split", "a\r\nInjected: yes")])
        return [b"x"]

    if path == "/not-bytes":
        start_response("200 OK", [])
        return ["a str is not a body"]

    if path == "/exc-info":
        try:
            raise ValueError("handled by the app")
        except ValueError:
            start_response("200 OK", [("X-First", "1")])
            start_response("503 Service Unavailable", [("X-Replaced", "1")], sys.exc_info())
        return [b"replaced"]

    if path == "/exc-info-late":
        write = start_response("200 OK", [])
        write(b"already sent")
        try:
            raise ValueError("too late to replace")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())  # re-raises
        return [b"unreachable"]

    if path == "/events":
        with _events_lock:
            return _json(start_response, list(EVENTS))

    if path == "/die":
        sys.stderr.write("raw_wsgi: dying on purpose\n")
        os._exit(17)

    return _json(start_response, {"error": "not found", "path": path}, status="404 Not Found")

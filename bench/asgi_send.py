"""Micro-benchmark of an ASGI stream's send side, no loop and no sockets: an `HTTPStream` per
request, its `http.response.start` and one 1 KiB `http.response.body`, each `send` coroutine
stepped by hand, frames going to a connection that only counts them.

    .venv/bin/python bench/asgi_send.py [python-dir] [requests]

Prints the CPU ns per request, best of 7 rounds. Run it against two trees (the `python/` of each)
in alternation to compare; the machine is noisy.
"""
import sys
import time

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "python")

from granian_ts.interfaces.asgi import HTTPStream  # noqa: E402

REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain"), (b"content-length", b"1024")]}
BODY = {"type": "http.response.body", "body": b"x" * 1024}


class Conn:
    write_paused = False

    def __init__(self):
        self.streams = {}
        self.frames = 0

    def write_frame(self, *frame):
        self.frames += 1

    def before_flush(self, callback):
        pass

    def end_stream(self, stream_id, stream):
        pass


def run(n):
    conn = Conn()
    start = time.process_time()
    for i in range(n):
        stream = HTTPStream(conn, i, True)
        for message in (START, BODY):
            step = stream.send(message)
            try:
                step.send(None)
            except StopIteration:
                pass
            else:
                raise RuntimeError("send waited: the benchmark measures sends that do not")
    elapsed = time.process_time() - start
    assert conn.frames == n  # one RESPONSE frame each: head and body together
    return elapsed / n


print(f"ASGI send path (stream + start + 1 KiB body): {min(run(REQUESTS) for _ in range(7)) * 1e9:.0f} ns/request")

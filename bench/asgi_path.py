"""Micro-benchmark of the worker's ASGI GET path, no sockets: REQUEST frames in through a real
`Connection`, a raw ASGI app, RESPONSE frames out to a transport that only counts bytes.

    PYTHONPATH=python .venv/bin/python bench/asgi_path.py [requests] [headers]

Prints CPU µs per request (process time, best of 7 rounds) and of the response-head encoder alone. Run it
against two trees (PYTHONPATH=<other>/python) in alternation to compare; the machine is noisy.
"""
import asyncio
import sys
import time
import timeit

from granian_ts.config import Config
from granian_ts.connection import Connection
from granian_ts.interfaces import load_interface
from granian_ts.protocol import FLAG_END, REQUEST, encode_frame, encode_response_head_prefix

REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
HEADERS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
# What a FastAPI/Starlette response carries, give or take.
RESPONSE_HEADERS = [
    (b"content-type", b"application/json"), (b"content-length", b"1024"), (b"x-request-id", b"0123456789abcdef"),
    (b"cache-control", b"no-cache"), (b"vary", b"accept-encoding"), (b"set-cookie", b"session=abc; Path=/; HttpOnly"),
][:HEADERS]
BODY = b"x" * 1024


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": RESPONSE_HEADERS})
    await send({"type": "http.response.body", "body": BODY})


class Sink:
    def __init__(self):
        self.size = 0

    def write(self, data):
        self.size += len(data)

    def close(self):
        pass

    def is_closing(self):
        return False

    def get_write_buffer_size(self):
        return 0


class Host:
    interface = None

    def on_hello(self, conn):
        pass

    def on_stop(self, conn):
        pass


def request_frame(stream):
    head = "\0".join(["GET", "http", "1.1", "127.0.0.1", "50000", "/", "", "host", "example.com",
                      "user-agent", "bench", "accept", "*/*"]).encode()
    return encode_frame(REQUEST, FLAG_END, stream, head)


async def main():
    config = Config(socket="/unused.sock", target="bench:app", interface="asginl")
    host = Host()
    host.interface = load_interface("asginl")(app, config)
    await host.interface.startup()
    conn = Connection(host)
    sink = Sink()
    conn.connection_made(sink)
    frames = [request_frame(i + 1) for i in range(100)]
    best = float("inf")
    for _ in range(7):
        start = time.process_time()
        for _ in range(REQUESTS // 100):
            for frame in frames:
                conn.data_received(frame)
            while conn.streams:  # let the 100 app tasks run and their frames flush
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        best = min(best, (time.process_time() - start) / REQUESTS)
    encode = min(timeit.repeat(lambda: encode_response_head_prefix(200, RESPONSE_HEADERS), number=100000, repeat=7, timer=time.process_time)) / 100000
    print(f"ASGI GET path: {best * 1e6:.2f} µs/request; response head ({HEADERS} headers): {encode * 1e9:.0f} ns")


asyncio.run(main())

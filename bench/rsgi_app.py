"""The RSGI app of the benchmark (`run.py --interface rsgi`): raw RSGI, no framework, the same
routes as bench_app.py.

GET  /      -> 200, 1 KiB of b"x" (text/plain)
POST /echo  -> 200, the request body
GET  /wait  -> 200, 1 KiB of b"x" after waiting 1 ms, as for a query or an HTTP call
"""

import asyncio

BODY = b"x" * 1024
GET_HEADERS = [("content-type", "text/plain"), ("content-length", "1024")]
NOT_FOUND_HEADERS = [("content-length", "0")]


async def app(scope, protocol):
    path, method = scope.path, scope.method
    if path == "/" and method == "GET":
        protocol.response_bytes(200, GET_HEADERS, BODY)
    elif path == "/wait" and method == "GET":
        await asyncio.sleep(0.001)
        protocol.response_bytes(200, GET_HEADERS, BODY)
    elif path == "/echo" and method == "POST":
        body = await protocol()
        protocol.response_bytes(
            200, [("content-type", "application/octet-stream"), ("content-length", str(len(body)))], body
        )
    else:
        protocol.response_empty(404, NOT_FOUND_HEADERS)

"""The app every server runs in `run.py --interface wsgi`: raw WSGI, no framework, so the
numbers measure the server and not a router. The same routes as bench_app.py:

GET  /      -> 200, 1 KiB of b"x" (text/plain)
POST /echo  -> 200, the request body
GET  /wait  -> 200, 1 KiB of b"x" after waiting 1 ms, as for a query or an HTTP call
"""

import time

BODY = b"x" * 1024
GET_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "1024")]
NOT_FOUND_HEADERS = [("Content-Length", "0")]


def app(environ, start_response):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/" and method == "GET":
        start_response("200 OK", GET_HEADERS)
        return [BODY]
    if path == "/wait" and method == "GET":
        time.sleep(0.001)
        start_response("200 OK", GET_HEADERS)
        return [BODY]
    if path == "/echo" and method == "POST":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", NOT_FOUND_HEADERS)
    return [b""]

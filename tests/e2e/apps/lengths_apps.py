"""Apps whose responses declare a content-length but send the body in more than one message
(tests/e2e/test_response_length.py): the frameworks that do it, and raw apps that lie."""
import os
import tempfile

DATA = os.environ.get("LENGTHS_DATA") or tempfile.gettempdir()
SMALL = os.path.join(DATA, "small.bin")  # 300 000 bytes: held whole, answered with its length
BIG = os.path.join(DATA, "big.bin")  # 6 MiB: above the hold limit
for _path, _size in ((SMALL, 300_000), (BIG, 6 * 1024 * 1024)):
    if not os.path.exists(_path) or os.path.getsize(_path) != _size:
        with open(_path, "wb") as _f:
            _f.write(bytes(range(256)) * (_size // 256) + b"x" * (_size % 256))


# -- raw ASGI: /parts?n=&declared=&parts= ; /nolen ; /headlen -------------------------------

async def raw(scope, receive, send):
    if scope["type"] != "http":
        return
    q = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    path = scope["path"]
    if path == "/parts":
        n, parts = int(q.get("n", 10)), int(q.get("parts", 2))
        declared = q.get("declared", str(n)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", declared)]})
        body = b"p" * n
        if q.get("single"):
            return await send({"type": "http.response.body", "body": body})
        step = max(1, -(-n // parts))
        for off in range(0, n, step):
            await send({"type": "http.response.body", "body": body[off:off + step], "more_body": True})
        return await send({"type": "http.response.body", "body": b""})
    if path == "/nolen":  # Emmett's HEAD: an empty body, no length
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        return await send({"type": "http.response.body", "body": b""})
    if path == "/headlen":  # a HEAD handler declaring the GET body's length
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1234")]})
        return await send({"type": "http.response.body", "body": b""})
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


# -- FastAPI behind @app.middleware("http") ------------------------------------------------

from fastapi import FastAPI  # noqa: E402
from fastapi.responses import FileResponse  # noqa: E402

fastapi_app = FastAPI()


@fastapi_app.middleware("http")
async def passthrough(request, call_next):
    return await call_next(request)


@fastapi_app.get("/json")
async def json_route():
    return {"hello": "world" * 100}


@fastapi_app.get("/item")
async def item(n: int):  # /item?n=x is a 422 behind the middleware
    return {"n": n}


@fastapi_app.get("/file")
async def file_route(big: int = 0):
    return FileResponse(BIG if big else SMALL)


# -- Starlette FileResponse behind a middleware --------------------------------------------

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.base import BaseHTTPMiddleware  # noqa: E402
from starlette.responses import FileResponse as StarletteFile  # noqa: E402
from starlette.routing import Route  # noqa: E402


class Passthrough(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        return await call_next(request)


async def starlette_file(request):
    return StarletteFile(SMALL, media_type="application/octet-stream")


starlette_app = Starlette(routes=[Route("/file", starlette_file, methods=["GET", "HEAD"])],
                          middleware=[Middleware(Passthrough)])


# -- Flask send_file, a WSGI file iterable -------------------------------------------------

from flask import Flask, send_file  # noqa: E402

flask_app = Flask(__name__)


@flask_app.get("/file")
def flask_file():
    return send_file(SMALL)


def wsgi_iterable(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(os.path.getsize(SMALL)))])
    f = open(SMALL, "rb")
    return iter(lambda: f.read(8192), b"")


# -- Django FileResponse ------------------------------------------------------------------

import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], SECRET_KEY="lengths-test",
                       MIDDLEWARE=[], INSTALLED_APPS=[])
    django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import FileResponse as DjangoFile  # noqa: E402
from django.urls import path as django_path  # noqa: E402


def django_file(request):
    return DjangoFile(open(SMALL, "rb"))


urlpatterns = [django_path("file", django_file)]
django_app = WSGIHandler()

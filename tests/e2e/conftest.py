"""Shared fixtures: real granian-ts servers (see _server.py)."""
import pytest

from _server import EXAMPLES, Server


@pytest.fixture
def make_server():
    servers = []

    def make(target, **kw):
        s = Server(target, **kw)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def raw_server():
    s = Server("raw_asgi:app").start()
    yield s
    s.stop()


# A real framework under both ways of running request coroutines (--task-impl, tests/e2e/test_task_impl.py).
@pytest.fixture(scope="module", params=["asyncio", "rust"], ids=lambda impl: f"task-impl-{impl}")
def fastapi_server(request):
    s = Server("fastapi_app:app", cwd=EXAMPLES, args=["--task-impl", request.param]).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def wsgi_server():
    s = Server("raw_wsgi:app", interface="wsgi", args=["--blocking-threads", "8"]).start()
    yield s
    s.stop()

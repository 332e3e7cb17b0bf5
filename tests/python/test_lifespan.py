"""ASGI lifespan: state into request scopes, failures, unsupported apps, shutdown."""

import logging

import pytest

from fakes import FakeBun, start_interface
from granian_ts.interfaces.base import StartupFailed


def lifespan_app(events, startup=None):
    """Speaks lifespan; `startup` may replace the startup acknowledgement."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = "connected"
                    await send(startup or {"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        state = scope.get("state")
        events.append(None if state is None else dict(state))
        if state is not None:
            scope["state"]["request_only"] = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_startup_state_is_copied_into_each_request():
    events = []
    bun = await FakeBun.serving(lifespan_app(events))
    bun.request(stream=1)
    await bun.response(1)
    bun.request(stream=2)
    await bun.response(2)
    assert events == ["lifespan.startup", {"db": "connected"}, {"db": "connected"}]  # shallow copies


async def test_shutdown_reaches_the_app():
    events = []
    interface = await start_interface(lifespan_app(events))
    await interface.shutdown()
    assert events == ["lifespan.startup", "lifespan.shutdown"]


async def test_startup_failed_carries_the_apps_message():
    app = lifespan_app([], startup={"type": "lifespan.startup.failed", "message": "no database"})
    with pytest.raises(StartupFailed, match="no database"):
        await start_interface(app)


async def test_an_app_without_lifespan_is_served_without_state(caplog):
    events = []

    async def app(scope, receive, send):
        assert scope["type"] == "http", "no lifespan here"
        events.append("state" in scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    bun = await FakeBun.serving(app)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.message for r in warnings] == ["ASGI 'lifespan' protocol appears unsupported."]
    bun.request()
    assert (await bun.response()).body == b"ok"
    assert events == [False]
    await bun.host.interface.shutdown()  # nothing to shut down, and no hang


async def test_asginl_never_calls_the_app_for_lifespan():
    events = []
    bun = await FakeBun.serving(lifespan_app(events), "asginl")
    bun.request()
    await bun.response()
    await bun.host.interface.shutdown()
    assert events == [None]

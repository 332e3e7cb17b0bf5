"""Helpers for the websocket e2e tests: a real client (the `websockets` package) driven from sync tests."""
import asyncio
import json
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

__all__ = ["ConnectionClosed", "InvalidStatus", "connect", "run", "stats", "ws_url"]


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_url(server, path):
    return f"ws://127.0.0.1:{server.port}{path}"


def stats(server):
    with urllib.request.urlopen(server.url + "/stats", timeout=10) as r:
        return json.loads(r.read())

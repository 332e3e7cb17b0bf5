"""Event loop registry: `--loop` name → a factory for a fresh loop."""

from __future__ import annotations

import asyncio
from typing import Callable, Dict


class LoopUnavailable(Exception):
    """The requested loop implementation is not installed."""


def _asyncio_loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


def _uvloop_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        raise LoopUnavailable("--loop uvloop was requested but uvloop is not installed (pip install uvloop)") from None
    return uvloop.new_event_loop()


def _auto_loop() -> asyncio.AbstractEventLoop:
    try:
        return _uvloop_loop()
    except LoopUnavailable:
        return _asyncio_loop()


LOOPS: Dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "auto": _auto_loop,
    "asyncio": _asyncio_loop,
    "uvloop": _uvloop_loop,
}


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    return LOOPS[name]()

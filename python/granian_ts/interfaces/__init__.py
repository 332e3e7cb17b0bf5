"""Interface registry: `--interface` name → the class serving that kind of app.

Each interface lives in one module with the shape of `base.Interface`; adding one (wsgi,
rsgi) means one new module and one line here. Modules are imported only when chosen, so an
interface's dependencies never load for another's apps.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Dict, Type

if TYPE_CHECKING:
    from .base import Interface

_REGISTRY: Dict[str, str] = {
    "asgi": "granian_ts.interfaces.asgi:ASGIInterface",
    "asginl": "granian_ts.interfaces.asgi:ASGINoLifespanInterface",
    "wsgi": "granian_ts.interfaces.wsgi:WSGIInterface",
    "rsgi": "granian_ts.interfaces.rsgi:RSGIInterface",
}

INTERFACES = tuple(_REGISTRY)


def load_interface(name: str) -> "Type[Interface]":
    module_name, _, attr = _REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)

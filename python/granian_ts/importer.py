"""Load the app named by `--target` (`module:attr`, attr defaults to `app`, dots allowed)."""

from __future__ import annotations

import importlib
from typing import Any


class ImportFromStringError(Exception):
    """The target could not be loaded; the message is what Bun shows the user."""


def call_factory(target: str, factory: Any) -> Any:
    """--factory: the target is a callable that builds the app (Granian's --factory)."""
    if not callable(factory):
        raise ImportFromStringError(f"--factory: {target!r} is not callable")
    try:
        return factory()
    except Exception as exc:
        raise ImportFromStringError(f"--factory: calling {target!r} raised {type(exc).__name__}: {exc}") from exc


def import_from_string(target: str) -> Any:
    module_name, _, attrs = target.partition(":")
    attrs = attrs or "app"
    if not module_name:
        raise ImportFromStringError(f"could not import {target!r}: expected 'module:attr'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # anything the module runs at import time can fail
        raise ImportFromStringError(f"could not import {target!r}: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError as exc:
            raise ImportFromStringError(
                f"could not import {target!r}: attribute {attrs!r} not found in module {module_name!r}"
            ) from exc
    return obj

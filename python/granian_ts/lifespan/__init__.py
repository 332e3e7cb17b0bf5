"""ASGI lifespan: `on` talks the lifespan protocol with the app, `off` skips it (asginl)."""

from .off import LifespanOff
from .on import LifespanOn

__all__ = ["LifespanOff", "LifespanOn"]

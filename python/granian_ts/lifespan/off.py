"""No lifespan: the app is never called with a `lifespan` scope and requests get no state."""

from __future__ import annotations

from typing import Any, Dict, Optional


class LifespanOff:
    def __init__(self, app: Any) -> None:
        self.state: Optional[Dict[str, Any]] = None

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

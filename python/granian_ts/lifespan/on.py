"""The ASGI lifespan protocol (https://asgi.readthedocs.io/en/latest/specs/lifespan.html).

Behaves like uvicorn's `--lifespan auto`: an app that raises before acknowledging startup is
taken not to speak lifespan, and is served without it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

from ..interfaces.base import StartupFailed

logger = logging.getLogger(__name__)

# Bun gives the worker its own grace period; this bound only keeps a hung shutdown handler
# from holding the worker (and STOPPED) forever.
SHUTDOWN_TIMEOUT = 30.0

_TRANSITIONS = {
    # message → the phase it may end
    "lifespan.startup.complete": "startup",
    "lifespan.startup.failed": "startup",
    "lifespan.shutdown.complete": "shutdown",
    "lifespan.shutdown.failed": "shutdown",
}


class LifespanOn:
    def __init__(self, app: Any) -> None:
        self._app = app
        # Requests get a copy of this once the app acknowledged startup (ASGI lifespan state).
        self.state: Optional[Dict[str, Any]] = None
        self._state: Dict[str, Any] = {}
        self._phase = "startup"  # the phase whose ending message the app may send next
        self._failure: Optional[str] = None
        self._received_startup = False
        self._queue: "Optional[asyncio.Queue[Dict[str, Any]]]" = None
        self._startup_done: Optional[asyncio.Event] = None
        self._shutdown_done: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None

    async def startup(self) -> None:
        logger.info("Waiting for application startup.")
        # Created here, inside the running loop (Python 3.9 binds them at construction).
        self._queue = asyncio.Queue()
        self._startup_done = asyncio.Event()
        self._shutdown_done = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._main())
        self._queue.put_nowait({"type": "lifespan.startup"})
        await self._startup_done.wait()
        if self._failure is not None:
            raise StartupFailed(self._failure or "ASGI lifespan startup failed")
        if self._phase == "shutdown":
            self.state = self._state
            logger.info("Application startup complete.")

    async def shutdown(self) -> None:
        if self._phase != "shutdown" or self._shutdown_done is None or self._shutdown_done.is_set():
            return  # lifespan unsupported, or the lifespan task already ended
        logger.info("Waiting for application shutdown.")
        assert self._queue is not None and self._task is not None
        self._queue.put_nowait({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._shutdown_done.wait(), SHUTDOWN_TIMEOUT)
        except asyncio.TimeoutError:
            logger.error("Application shutdown did not finish within %ss.", SHUTDOWN_TIMEOUT)
            self._task.cancel()
            return
        if self._failure is not None:
            logger.error("Application shutdown failed: %s", self._failure or "(no message)")
        else:
            logger.info("Application shutdown complete.")

    async def _main(self) -> None:
        assert self._startup_done is not None and self._shutdown_done is not None
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}
        try:
            await self._app(scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise  # the worker is exiting (shutdown timed out, or the loop is closing)
        except BaseException as exc:
            if self._failure is not None:
                pass  # the app reported its failure and then raised; already handled
            elif not self._startup_done.is_set():
                logger.warning("ASGI 'lifespan' protocol appears unsupported.")
                if self._received_startup:
                    logger.debug("The lifespan handler raised during startup:", exc_info=exc)
            else:
                logger.error("Exception in 'lifespan' protocol", exc_info=exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._startup_done.set()
            self._shutdown_done.set()

    async def _receive(self) -> Dict[str, Any]:
        assert self._queue is not None
        message = await self._queue.get()
        if message["type"] == "lifespan.startup":
            self._received_startup = True
        return message

    async def _send(self, message: Dict[str, Any]) -> None:
        assert self._startup_done is not None and self._shutdown_done is not None
        mtype = message["type"]
        phase = _TRANSITIONS.get(mtype)
        if phase is None:
            raise RuntimeError(f"Unexpected ASGI lifespan message '{mtype}'.")
        if phase != self._phase:
            raise RuntimeError(f"Unexpected ASGI lifespan message '{mtype}' during {self._phase}.")
        if mtype.endswith(".failed"):
            self._failure = str(message.get("message", ""))
        if phase == "startup":
            self._phase = "shutdown"
            self._startup_done.set()
        else:
            self._phase = "done"
            self._shutdown_done.set()

"""The shape every interface module implements (asgi, wsgi, rsgi)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Optional, Set

from ..tasks import AVAILABLE as STEP_TASKS, StepTask

if TYPE_CHECKING:
    from ..config import Config
    from ..connection import Connection


class StartupFailed(Exception):
    """The app refused to start; the message goes to Bun in STARTUP_FAILED."""


class Stream:
    """One request/response exchange; the connection feeds it the frames of its stream id."""

    __slots__ = ()

    def on_body(self, chunk: bytes, end: bool) -> None:
        """A REQUEST_BODY frame arrived (`end`: it was the last one)."""
        raise NotImplementedError

    def on_ack(self, size: int) -> None:
        """Bun handed `size` more response bytes to the client (RESPONSE_ACK)."""
        raise NotImplementedError

    def on_disconnect(self) -> None:
        """The client went away, or the connection to Bun was lost."""
        raise NotImplementedError


class AsyncStream(Stream):
    """A stream whose app side awaits state changes made by the connection's frames.

    One lazily created event serves every wait (body, acks, messages, disconnect): waiters
    re-check their own condition in a loop, so one wake-up per frame is enough.
    """

    # Subclasses set `self._event = None` in their own __init__ (no super() call on the hot path).
    __slots__ = ("_event", "_task")
    _event: Optional[asyncio.Event]
    _task: "asyncio.Task[None]"

    def _spawn(self, conn: "Connection", stream_id: int, coro: Any, tasks: Set[Any], step: bool) -> None:
        """Register the stream with `conn` and run the app's coroutine as a task held in `tasks`
        (the loop keeps only weak references).

        run() drops it with `tasks.discard(self._task)` when it ends: cheaper than a done-callback
        per request, and than asyncio.current_task(), which on 3.11 pays a getpid() syscall.
        `step` (--task-impl rust): a StepTask, whose first step runs now, so the stream and the
        task are stored before it; an asyncio Task's first step waits for the next loop turn.
        """
        conn.streams[stream_id] = self
        if step:
            task = self._task = StepTask(conn.loop, coro)  # type: ignore[assignment]
            tasks.add(task)
            task.start()
            return
        task = self._task = conn.loop.create_task(coro)
        tasks.add(task)

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()

    async def _wait(self) -> None:
        """Wait for the next state change; callers re-check their condition in a loop."""
        event = self._event
        if event is None:
            event = self._event = asyncio.Event()
        event.clear()
        await event.wait()


class Interface:
    """Serves one app: its lifecycle (startup/shutdown) and a Stream per REQUEST frame."""

    # True: at its first request a connection is handed over whole (`take_connection`) instead
    # of its streams being opened here one by one (WSGI, whose app threads serve it).
    takes_connections = False

    def __init__(self, app: Any, config: "Config") -> None:
        self.app = app
        self.config = config
        # --task-impl rust: request coroutines run as StepTasks (granian_ts/tasks.py).
        self.step_tasks = config.task_impl == "rust" and STEP_TASKS

    async def startup(self) -> None:
        """Run before READY; raise StartupFailed to refuse to serve."""

    async def shutdown(self) -> None:
        """Run on STOP (or SIGTERM), before STOPPED."""

    def open_stream(self, conn: "Connection", stream_id: int, head: bytes, end: bool) -> Stream:
        """Start serving the request whose REQUEST payload is `head` (`end`: it has no body).
        The stream goes into `conn.streams` before its app can run (and finish)."""
        raise NotImplementedError

    def take_connection(self, sock: Any, decoder: Any, frames: Any) -> None:
        """With `takes_connections`: serve the connection on `sock` from now on; `decoder` holds
        what was read past `frames`, the frames read and not yet dispatched (the first request first)."""
        raise NotImplementedError

    def open_websocket(self, conn: "Connection", stream_id: int, head: bytes) -> Stream:
        """Start serving a websocket upgrade (WS_OPEN, same payload as REQUEST). An interface
        without websockets (WSGI) serves it as the plain request it also is."""
        return self.open_stream(conn, stream_id, head, True)

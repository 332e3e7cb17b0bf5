"""How a request's coroutine runs: an asyncio Task, or (`--task-impl rust`) a `StepTask`.

Granian's `--task-impl rust` (Python < 3.12, "experimental" in its own words) drives request
coroutines from Rust instead of wrapping each one in an asyncio Task. `StepTask` is that here:
it runs the coroutine's first step at once, inside the frame callback that opened the request,
and later steps from the done-callbacks of the futures it awaits. What it saves per request is
the Task (a Future, its registration in asyncio's weak set of all tasks) and the loop turn its
first step waits for: about 1 µs of the worker's ~9 for a small ASGI response
(bench/RESULTS.md, 2026-12-06 later).

While it steps it is the loop's current task (`asyncio.current_task()` returns it), with the
parts of the Task API that asyncio.timeout, asyncio.TaskGroup and anyio's cancel scopes use:
cancel/cancelling/uncancel, done/cancelled, get_coro/get_name/get_loop/get_context and the
`_must_cancel`/`_fut_waiter` attributes anyio reads. It is not a Future: nothing awaits it, and
`asyncio.all_tasks()` does not list it (the interface keeps the running ones).

The stepping mirrors asyncio.Task.__step (CPython 3.11, Lib/asyncio/tasks.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from typing import Any, Callable, Coroutine, List, Optional, Set

try:  # what makes asyncio.current_task() answer: asyncio's own hooks, C-accelerated
    from asyncio.tasks import _enter_task, _leave_task  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - not on the Pythons granian-ts runs on
    _enter_task = _leave_task = None

# Granian offers it below Python 3.12 only; on 3.12+ it falls back to asyncio, as here.
AVAILABLE = sys.version_info < (3, 12) and _enter_task is not None


class _NotEntered(Exception):
    pass


class StepTask:
    __slots__ = (
        "_coro", "_loop", "_context", "_fut_waiter", "_must_cancel", "_cancel_message",
        "_num_cancels_requested", "_state", "_callbacks", "_name", "__weakref__",
    )

    # _state: 0 running, 1 finished, 2 cancelled, 3 failed (BaseException other than Cancelled)

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], name: str = "") -> None:
        self._coro = coro
        self._loop = loop
        self._context = contextvars.copy_context()
        self._fut_waiter: Optional[asyncio.Future] = None
        self._must_cancel = False
        self._cancel_message: Optional[str] = None
        self._num_cancels_requested = 0
        self._state = 0
        self._callbacks: Optional[List[Callable[["StepTask"], Any]]] = None
        self._name = name

    def start(self) -> None:
        """Run the first step now: the caller is a loop callback (a frame arrived), outside any
        task. Called from inside a task, it cannot be the current one: the step waits a turn."""
        try:
            self._context.run(self._step, None)
        except _NotEntered:
            self._loop.call_soon(self._step, None, context=self._context)

    # Task API

    def get_coro(self) -> Coroutine[Any, Any, Any]:
        return self._coro

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def get_context(self) -> contextvars.Context:
        return self._context

    def get_name(self) -> str:
        return self._name or f"StepTask-{id(self):x}"

    def set_name(self, value: Any) -> None:
        self._name = str(value)

    def done(self) -> bool:
        return self._state != 0

    def cancelled(self) -> bool:
        return self._state == 2

    def cancelling(self) -> int:
        return self._num_cancels_requested

    def uncancel(self) -> int:
        if self._num_cancels_requested > 0:
            self._num_cancels_requested -= 1
        return self._num_cancels_requested

    def cancel(self, msg: Optional[str] = None) -> bool:
        if self._state != 0:
            return False
        self._num_cancels_requested += 1
        waiter = self._fut_waiter
        if waiter is not None and waiter.cancel(msg=msg):
            # The wake-up from the waiter throws CancelledError into the coroutine.
            return True
        self._must_cancel = True
        self._cancel_message = msg
        return True

    def add_done_callback(self, fn: Callable[["StepTask"], Any], *, context: Optional[contextvars.Context] = None) -> None:
        if self._state != 0:
            self._loop.call_soon(fn, self, context=context)
        elif self._callbacks is None:
            self._callbacks = [fn]
        else:
            self._callbacks.append(fn)

    def remove_done_callback(self, fn: Callable[["StepTask"], Any]) -> int:
        callbacks = self._callbacks
        if not callbacks:
            return 0
        kept = [cb for cb in callbacks if cb != fn]
        self._callbacks = kept
        return len(callbacks) - len(kept)

    def __repr__(self) -> str:
        state = ("pending", "finished", "cancelled", "failed")[self._state]
        return f"<StepTask {state} name={self.get_name()!r} coro={self._coro!r}>"

    # Stepping (runs in self._context)

    def _step(self, exc: Optional[BaseException]) -> None:
        if self._must_cancel:
            if not isinstance(exc, asyncio.CancelledError):
                exc = asyncio.CancelledError() if self._cancel_message is None else asyncio.CancelledError(self._cancel_message)
            self._must_cancel = False
        self._fut_waiter = None
        loop = self._loop
        try:
            _enter_task(loop, self)
        except RuntimeError:  # another task is running: only start() can meet this
            raise _NotEntered from None
        try:
            result = self._coro.send(None) if exc is None else self._coro.throw(exc)
        except StopIteration:
            self._end(2 if self._must_cancel else 1)
        except asyncio.CancelledError:
            self._end(2)
        except (KeyboardInterrupt, SystemExit):
            self._end(3)
            raise
        except BaseException:
            # The interfaces' run() catch what an app raises; this is a last resort.
            self._end(3)
            loop.call_exception_handler({"message": "request task failed", "exception": sys.exc_info()[1], "task": self})
        else:
            self._wait_on(result)
        finally:
            _leave_task(loop, self)

    def _wait_on(self, result: Any) -> None:
        blocking = getattr(result, "_asyncio_future_blocking", None)
        if blocking is not None:
            if asyncio.futures._get_loop(result) is not self._loop:  # type: ignore[attr-defined]
                error: BaseException = RuntimeError(f"StepTask {self!r} got Future {result!r} attached to a different loop")
            elif blocking:
                result._asyncio_future_blocking = False
                result.add_done_callback(self._wakeup, context=self._context)
                self._fut_waiter = result
                if self._must_cancel and result.cancel(msg=self._cancel_message):
                    self._must_cancel = False
                return
            else:
                error = RuntimeError(f"yield was used instead of yield from in task {self!r} with {result!r}")
        elif result is None:
            # A bare yield (asyncio.sleep(0)): the next step on the next loop turn.
            self._loop.call_soon(self._step, None, context=self._context)
            return
        else:
            error = RuntimeError(f"StepTask got bad yield: {result!r}")
        self._loop.call_soon(self._step, error, context=self._context)

    def _wakeup(self, future: asyncio.Future) -> None:
        try:
            future.result()
        except BaseException as exc:
            self._step(exc)
        else:
            # Future.__await__ reads the result itself once resumed.
            self._step(None)

    def _end(self, state: int) -> None:
        self._state = state
        callbacks, self._callbacks = self._callbacks, None
        if callbacks:
            for fn in callbacks:
                self._loop.call_soon(fn, self, context=self._context)


def cancel_and_wait(loop: asyncio.AbstractEventLoop, tasks: Set[Any], timeout: float) -> None:
    """At exit: cancel the StepTasks still running and give them `timeout` seconds to end."""
    pending = [t for t in tasks if isinstance(t, StepTask) and not t.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    deadline = loop.time() + timeout

    async def wait() -> None:
        while any(not t.done() for t in pending) and loop.time() < deadline:
            await asyncio.sleep(0.01)

    loop.run_until_complete(wait())

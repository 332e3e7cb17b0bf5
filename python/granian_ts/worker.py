"""The worker process: listen on Bun's Unix socket, load the app, serve until told to stop.

Lifecycle (docs/protocol.md, "Control connection"): listen → import the app → interface
startup (ASGI lifespan) → READY on the control connection; STOP → interface shutdown →
STOPPED → exit 0. A failed startup answers STARTUP_FAILED and exits 3. Bun closing our stdin
means Bun is gone, and the worker exits at once.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import stat
import sys
from typing import Any, Coroutine, Optional, Sequence, Set

from .config import Config, parse_args
from .connection import Connection, ConnectionHost
from .procname import set_process_name
from .importer import ImportFromStringError, call_factory, import_from_string
from .interfaces import load_interface
from .interfaces.base import Interface, StartupFailed
from .logs import configure_logging
from .loops import LoopUnavailable, new_event_loop
from .protocol import READY, STARTING, STARTUP_FAILED, STOPPED, speedups
from .tasks import AVAILABLE as STEP_TASKS, cancel_and_wait

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2  # bad options (config.parse_args, as argparse does); also an unavailable --loop
EXIT_STARTUP_FAILED = 3

# A worker that failed before Bun's HELLO waits this long for it, so Bun still learns why.
HELLO_TIMEOUT = 10.0
# Bounded cleanup of request tasks still running at exit (Bun drained them before STOP).
EXIT_GRACE = 1.0


class Worker(ConnectionHost):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.interface: Optional[Interface] = None
        self._socket_path = os.path.abspath(config.socket)
        self._socket_inode: Optional[int] = None
        self._control: Optional[Connection] = None
        self._ready = False
        self._stopping = False
        self._tasks: Set[asyncio.Task] = set()
        self._hello: Optional[asyncio.Event] = None
        self._exit: Optional["asyncio.Future[int]"] = None

    async def serve(self) -> int:
        """Run until STOP, SIGTERM or a failed startup; return the exit status."""
        loop = asyncio.get_running_loop()
        self._hello = asyncio.Event()
        self._exit = loop.create_future()
        server = await self._listen(loop)
        self._watch_stdin(loop)
        loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        self._spawn(self._startup())
        try:
            return await self._exit
        finally:
            server.close()
            self._unlink_socket()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _finish(self, status: int) -> None:
        assert self._exit is not None
        if not self._exit.done():
            self._exit.set_result(status)

    # Socket and stdin

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> asyncio.AbstractServer:
        path = self._socket_path
        try:
            os.unlink(path)  # left behind by a worker that was killed
        except FileNotFoundError:
            pass
        server = await loop.create_unix_server(lambda: Connection(self), path)
        self._socket_inode = os.stat(path).st_ino
        logger.debug("listening on %s", path)
        return server

    def _unlink_socket(self) -> None:
        # Only our own socket: a replacement worker may already be bound to the same path.
        try:
            if os.stat(self._socket_path).st_ino == self._socket_inode:
                os.unlink(self._socket_path)
        except OSError:
            pass

    def _watch_stdin(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            mode = os.fstat(0).st_mode
            # Bun gives us a pipe. Anything else means a manual start (a terminal, a file,
            # /dev/null), where EOF would say nothing about a parent.
            if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
                raise OSError("stdin is not a pipe")
            loop.add_reader(0, self._on_stdin)
        except OSError as exc:
            logger.debug("not watching stdin for the parent's exit: %s", exc)

    def _on_stdin(self) -> None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # Bun's end of the pipe closed: Bun exited, even if it was SIGKILLed. Nothing is
            # left to serve, and lingering would hold the app's resources.
            logger.info("parent process is gone (stdin closed), exiting")
            # os._exit skips serve()'s finally: the socket would stay behind in the temp dir.
            self._unlink_socket()
            os._exit(EXIT_OK)

    # Startup

    async def _startup(self) -> None:
        # Bun's HELLO first, so that Bun hears what we are doing even while an import blocks
        # the loop (the start-up timeout names the phase).
        assert self._hello is not None
        try:
            await asyncio.wait_for(self._hello.wait(), HELLO_TIMEOUT)
        except asyncio.TimeoutError:
            pass
        try:
            self.interface = await self._load()
        except StartupFailed as exc:
            await self._refuse(exc)
            return
        self._ready = True
        logger.debug("frame codec: %s", "C (_speedups)" if speedups is not None else "pure Python")
        if self.config.gc_freeze:
            _freeze_heap()
        if self.config.task_impl == "rust" and not STEP_TASKS:
            logger.warning("--task-impl rust is not available on Python >= 3.12 (as in Granian): asyncio tasks run the requests")
        logger.debug("ready: %s app %r", self.config.interface, self.config.target)
        if self._control is not None:
            self._send_ready(self._control)

    async def _load(self) -> Interface:
        working_dir = os.path.abspath(self.config.working_dir)
        try:
            os.chdir(working_dir)
        except OSError as exc:
            raise StartupFailed(f"could not enter working directory {working_dir!r}: {exc}") from exc
        if not sys.path or sys.path[0] != working_dir:
            sys.path.insert(0, working_dir)
        await self._phase("importing the app")
        try:
            app = import_from_string(self.config.target)
            if self.config.factory:
                app = call_factory(self.config.target, app)
        except ImportFromStringError as exc:
            raise StartupFailed(str(exc)) from exc.__cause__
        interface = load_interface(self.config.interface)(app, self.config)
        await self._phase("running lifespan startup")
        try:
            await interface.startup()
        except StartupFailed:
            raise
        except Exception as exc:
            raise StartupFailed(f"{self.config.interface} startup raised {type(exc).__name__}: {exc}") from exc
        return interface

    async def _phase(self, what: str) -> None:
        """Tell Bun what start-up is doing, and let the frame leave before we (maybe) block."""
        if self._control is not None:
            self._control.write_frame(STARTING, 0, 0, what.encode())
            await asyncio.sleep(0)

    async def _refuse(self, failure: StartupFailed) -> None:
        message = str(failure)
        # The cause's traceback is for the log; Bun shows the one-line message.
        logger.error("startup failed: %s", message, exc_info=failure.__cause__)
        assert self._hello is not None
        if not self._hello.is_set():
            try:
                await asyncio.wait_for(self._hello.wait(), HELLO_TIMEOUT)
            except asyncio.TimeoutError:
                logger.error("no HELLO from Bun within %ss", HELLO_TIMEOUT)
        if self._control is not None:
            self._control.write_frame(STARTUP_FAILED, 0, 0, message.encode("utf-8"))
            await self._control.flush_and_close()
        self._finish(EXIT_STARTUP_FAILED)

    def _send_ready(self, conn: Connection) -> None:
        conn.write_frame(READY, 0, 0, json.dumps({"pid": os.getpid()}).encode())

    # Control frames

    def on_hello(self, conn: Connection) -> None:
        assert self._hello is not None
        self._control = conn
        self._hello.set()
        if self._ready:
            self._send_ready(conn)

    def on_stop(self, conn: Connection) -> None:
        self._spawn(self._stop(conn))

    def _on_sigterm(self) -> None:
        self._spawn(self._stop(None))

    async def _stop(self, conn: Optional[Connection]) -> None:
        """STOP from Bun (conn) or SIGTERM (None): shut the app down, then exit 0."""
        if self._stopping:
            return
        self._stopping = True
        if self._ready and self.interface is not None:
            await self.interface.shutdown()
        if conn is not None:
            conn.write_frame(STOPPED, 0, 0)
            await conn.flush_and_close()
        self._finish(EXIT_OK)


def _run(loop: asyncio.AbstractEventLoop, worker: "Worker") -> int:
    """Like asyncio.run with a given loop (asyncio.Runner's loop_factory needs Python 3.11)."""
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(worker.serve())
    finally:
        try:
            # Requests run as StepTasks (--task-impl rust) are not in asyncio.all_tasks().
            interface = worker.interface
            cancel_and_wait(loop, getattr(interface, "_tasks", None) or set(), EXIT_GRACE)
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=EXIT_GRACE))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    config = parse_args(argv)
    configure_logging(config.log_level, config.log_format, config.log_config)
    set_process_name(config.process_name)
    # The terminal sends SIGINT to the whole process group; Bun orchestrates the shutdown
    # (STOP) and must not find its workers already gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        loop = new_event_loop(config.loop)
    except LoopUnavailable as exc:
        logger.error("%s", exc)
        return EXIT_USAGE
    return _run(loop, Worker(config))


def _freeze_heap() -> None:
    """--gc-freeze: what the app holds once loaded (modules, routes, models, pools) moves to the
    permanent generation, out of every later collection. Under load the requests in flight keep
    surviving young collections, so the collector's full passes come often, and each one would
    otherwise walk the whole app again: on an HTTP/2 load (100 streams a connection) freezing
    took 18% off the tree's CPU per request (bench/RESULTS.md, 2026-12-06 night). Garbage goes
    first, so no cycle is frozen; objects freed by reference counting are freed as before."""
    gc.collect()
    gc.freeze()
    logger.debug("froze %d objects after start-up (--gc-freeze)", gc.get_freeze_count())

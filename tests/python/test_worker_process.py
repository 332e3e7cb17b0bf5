"""The real worker process on a real Unix socket, driven the way Bun drives it."""

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fakes import decode_response_head, encode_request_head
from granian_ts.protocol import (
    FLAG_END,
    HELLO,
    STARTING,
    READY,
    REQUEST,
    RESPONSE,
    STARTUP_FAILED,
    STOP,
    STOPPED,
    FrameDecoder,
    encode_frame,
)

PYTHON_DIR = Path(__file__).resolve().parents[2] / "python"

APP = '''
from pathlib import Path

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello"
                await send({"type": "lifespan.startup.complete"})
            else:
                Path("shutdown.txt").write_text("done")
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    body = (scope["state"]["greeting"] + " " + scope["path"]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
'''


@pytest.fixture
def workdir():
    # Short path: Unix socket paths are limited to ~104 bytes.
    path = Path(tempfile.mkdtemp(prefix="gts-"))
    (path / "app.py").write_text(APP)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def spawn(workdir, target="app:app", loop="asyncio"):
    argv = [
        sys.executable, "-m", "granian_ts",
        "--socket", str(workdir / "w.sock"),
        "--interface", "asgi",
        "--target", target,
        "--loop", loop,
        "--working-dir", str(workdir),
        "--server-host", "127.0.0.1",
        "--server-port", "8000",
        "--log-level", "debug",
        "--root-path", "",
    ]
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/")


def connect(proc, path, timeout=10.0):
    """Connect once the worker listens (it binds before importing the app)."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            sock.settimeout(timeout)
            return sock
        except OSError:
            sock.close()
            assert proc.poll() is None, f"worker exited {proc.returncode}: {proc.stderr.read().decode()}"
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def read_frame(sock, decoder, pending):
    while not pending:
        data = sock.recv(65536)
        assert data, "worker closed the connection"
        pending += decoder.feed(data)
    return pending.pop(0)


class Peer:
    """One Unix-socket connection speaking frames, like one of Bun's."""

    def __init__(self, proc, path):
        self.sock = connect(proc, path)
        self.decoder = FrameDecoder()
        self.pending = []

    def send(self, ftype, stream=0, payload=b"", flags=0):
        self.sock.sendall(encode_frame(ftype, flags, stream, payload))

    def read(self):
        # STARTING frames (what start-up is doing) only feed Bun's start-up timeout message.
        while True:
            frame = read_frame(self.sock, self.decoder, self.pending)
            if frame[0] != STARTING:
                return frame


@pytest.mark.parametrize("loop", ["asyncio", "auto"])
def test_serves_a_request_and_exits_when_stdin_closes(workdir, loop):
    proc = spawn(workdir, loop=loop)
    try:
        control = Peer(proc, workdir / "w.sock")
        control.send(HELLO)
        ftype, _, _, payload = control.read()
        assert ftype == READY, payload
        assert json.loads(payload) == {"pid": proc.pid}

        listener = Peer(proc, workdir / "w.sock")
        listener.send(REQUEST, 1, encode_request_head(path="/hi"), FLAG_END)
        ftype, flags, stream, payload = listener.read()
        assert (ftype, flags, stream) == (RESPONSE, FLAG_END, 1)
        assert decode_response_head(payload) == (200, [(b"content-type", b"text/plain")], b"hello /hi")

        proc.stdin.close()
        assert proc.wait(timeout=2) == 0
    finally:
        proc.kill()
        proc.wait()


def test_stop_runs_lifespan_shutdown_and_exits_zero(workdir):
    proc = spawn(workdir)
    try:
        control = Peer(proc, workdir / "w.sock")
        control.send(HELLO)
        assert control.read()[0] == READY
        control.send(STOP)
        assert control.read()[0] == STOPPED
        assert proc.wait(timeout=5) == 0
        assert (workdir / "shutdown.txt").read_text() == "done"
        assert not (workdir / "w.sock").exists()
    finally:
        proc.kill()
        proc.wait()


def test_sigint_is_ignored_and_sigterm_shuts_down(workdir):
    proc = spawn(workdir)
    try:
        control = Peer(proc, workdir / "w.sock")
        control.send(HELLO)
        assert control.read()[0] == READY
        proc.send_signal(signal.SIGINT)  # Ctrl-C reaches the whole group; Bun decides
        listener = Peer(proc, workdir / "w.sock")
        listener.send(REQUEST, 1, encode_request_head(path="/still"), FLAG_END)
        assert decode_response_head(listener.read()[3])[2] == b"hello /still"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert (workdir / "shutdown.txt").read_text() == "done"
    finally:
        proc.kill()
        proc.wait()


def test_bad_target_answers_startup_failed_and_exits_3(workdir):
    proc = spawn(workdir, target="gts_missing_module:app")
    try:
        control = Peer(proc, workdir / "w.sock")
        control.send(HELLO)
        ftype, _, _, payload = control.read()
        assert ftype == STARTUP_FAILED
        assert payload.decode() == (
            "could not import 'gts_missing_module:app': ModuleNotFoundError: No module named 'gts_missing_module'"
        )
        assert proc.wait(timeout=5) == 3
        assert b"Traceback" in proc.stderr.read()  # the import error is logged in full
    finally:
        proc.kill()
        proc.wait()


def test_uvloop_is_used_when_installed_and_refused_clearly_when_not(workdir):
    proc = spawn(workdir, loop="uvloop")
    try:
        if importlib.util.find_spec("uvloop") is not None:
            control = Peer(proc, workdir / "w.sock")
            control.send(HELLO)
            assert control.read()[0] == READY
            proc.stdin.close()
            assert proc.wait(timeout=2) == 0
        else:
            assert proc.wait(timeout=5) == 2
            assert b"uvloop is not installed" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()

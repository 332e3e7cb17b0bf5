"""A real `granian-ts serve` process on a free port, ready when it says so (no fixed sleeps)."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
EXAMPLES = ROOT / "examples"
BUN = ROOT / "node_modules" / ".bin" / "bun"
BIN = ROOT / "bin" / "granian-ts.mjs"
LISTENING = re.compile(r"Listening at: (https?)(?:://\S+:(\d+)|\+unix://(\S+))")


def raw_request(port, data, timeout=5):
    """Send raw bytes on a fresh socket; return everything read until close or timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def tree_pids(pid):
    """pid and all its descendants (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kib(pid):
    """Resident memory of a process tree, in KiB."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Server:
    def __init__(self, target, interface="asgi", args=(), env=None, cwd=APPS, runner=BUN):
        self.argv = [str(runner), str(BIN), "serve", "--interface", interface, "--port", "0",
                     "--python", sys.executable, "--working-dir", str(cwd), *args, target]
        self.env = {**os.environ, **(env or {})}
        self.lines = []
        self.port = None
        self.scheme = "http"
        self.uds = None
        self.proc = None
        self._ready = threading.Event()

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log(self):
        return "".join(self.lines)

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            m = LISTENING.search(line)
            if m and not self._ready.is_set():
                self.scheme, port, self.uds = m.groups()
                self.port = int(port) if port else 0
                self._ready.set()
        self._ready.set()

    def start(self, timeout=30):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=self.env, start_new_session=True)
        threading.Thread(target=self._reader, daemon=True).start()
        self._ready.wait(timeout)
        if self.port is None:
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"granian-ts did not start:\n{self.log}")
        return self

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # No orphans: nothing of the group may outlive the server.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.proc.returncode

    def wait_for_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return True
            time.sleep(0.05)
        return False

    def rss_kib(self):
        return rss_kib(self.proc.pid)

"""Start-up, workers, supervision and shutdown of real granian-ts processes."""
import glob
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from _server import APPS, BIN, BUN, Server, tree_pids


def run_cli(*args, timeout=30):
    argv = [str(BUN), str(BIN), "serve", "--python", sys.executable, "--working-dir", str(APPS), "--port", "0", *args]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - t0


def test_unimportable_app_exits_nonzero_quickly():
    p, elapsed = run_cli("--interface", "asgi", "does_not_exist:app")
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "does_not_exist:app" in out
    assert "No module named 'does_not_exist'" in out
    assert elapsed < 10


def test_missing_attribute_exits_nonzero():
    p, _ = run_cli("--interface", "asgi", "raw_asgi:nope")
    assert p.returncode != 0
    assert "raw_asgi:nope" in p.stdout + p.stderr


def test_failed_lifespan_startup_stops_the_server():
    p, elapsed = run_cli("--interface", "asgi", "lifespan_fail:app")
    assert p.returncode != 0
    assert "the database is not there" in p.stdout + p.stderr
    assert elapsed < 10


def test_app_without_lifespan_keeps_working_with_one_warning(make_server):
    s = make_server("no_lifespan:app")
    assert httpx.get(s.url).text.startswith("ok")
    assert s.log.count("lifespan") >= 1
    assert "unsupported" in s.log.lower()


def test_asginl_runs_no_lifespan(make_server):
    s = make_server("no_lifespan:app", interface="asginl")
    assert httpx.get(s.url).text.startswith("ok")
    assert "unsupported" not in s.log.lower()


def test_sigterm_is_graceful(tmp_path):
    marker = tmp_path / "shutdown.txt"
    s = Server("raw_asgi:app", env={"RAW_ASGI_SHUTDOWN_FILE": str(marker)}).start()
    result = {}

    def slow():
        result["r"] = httpx.get(s.url + "/slow?delay=1.5", timeout=10)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    code = s.stop(signal.SIGTERM)
    t.join()
    assert code == 0
    assert result["r"].status_code == 200  # the in-flight request finished
    assert marker.read_text().startswith("shutdown")  # lifespan shutdown ran
    with pytest.raises(httpx.ConnectError):
        httpx.get(s.url + "/scope", timeout=2)


def test_sigint_is_graceful_too(tmp_path):
    marker = tmp_path / "shutdown.txt"
    s = Server("raw_asgi:app", env={"RAW_ASGI_SHUTDOWN_FILE": str(marker)}).start()
    assert s.stop(signal.SIGINT) == 0
    assert marker.exists()


def test_sigkill_leaves_no_orphans():
    s = Server("raw_asgi:app", args=["--workers", "2"]).start()
    pids = set(tree_pids(s.proc.pid)) - {s.proc.pid}
    assert len(pids) >= 2  # the Python workers
    # Each worker's socket (src/_python.ts names it after Bun's pid): Bun cannot remove them now.
    sockets = glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"granian-ts-{s.proc.pid}-*.sock"))
    assert len(sockets) == 2
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and _alive(p) for p in pids):
        time.sleep(0.1)
    assert not [p for p in pids if os.path.exists(f"/proc/{p}") and _alive(p)]
    assert not [p for p in sockets if os.path.exists(p)]


def test_npx_shim_under_node_leaves_no_orphans():
    # `npx granian-ts` runs bin/granian-ts.mjs under Node, which runs the CLI with the bundled Bun.
    s = Server("raw_asgi:app", runner="node").start()
    assert httpx.get(s.url + "/scope").status_code == 200
    pids = set(tree_pids(s.proc.pid)) - {s.proc.pid}
    assert len(pids) >= 2  # Bun and the Python worker
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not [p for p in pids if _alive(p)]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_several_workers_share_the_port(make_server):
    s = make_server("raw_asgi:app", args=["--workers", "2", "--runtime-threads", "2"])
    pids = set()
    for _ in range(60):
        with httpx.Client() as c:  # a new connection each time so the kernel spreads them
            pids.add(c.get(s.url + "/scope").json()["pid"])
    assert len(pids) == 2


def test_dying_worker_gives_502_is_logged_and_respawned(make_server):
    s = make_server("raw_asgi:app", args=["--respawn-failed-workers"])
    first = httpx.get(s.url + "/scope").json()["pid"]
    r = httpx.get(s.url + "/die", timeout=10)
    assert r.status_code == 502
    assert s.wait_for_log("died")
    deadline = time.monotonic() + 15
    pid = None
    while time.monotonic() < deadline:
        r = httpx.get(s.url + "/scope")
        if r.status_code == 200:
            pid = r.json()["pid"]
            break
        time.sleep(0.1)
    assert pid and pid != first


def test_uvloop_and_asyncio_loops(make_server):
    for loop in ["asyncio", "uvloop"]:
        s = make_server("raw_asgi:app", args=["--loop", loop])
        assert httpx.get(s.url + "/scope").status_code == 200


def test_reload_restarts_workers_on_change(make_server, tmp_path):
    app = tmp_path / "reloadable.py"
    app.write_text(_reload_app("one"))
    s = make_server("reloadable:app", cwd=tmp_path, args=["--reload"])
    assert httpx.get(s.url).text == "one"
    app.write_text(_reload_app("two"))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(s.url).text == "two":
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    assert httpx.get(s.url).text == "two"


def _reload_app(word):
    return (
        "import os\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    if scope['path'] == '/crash':\n"
        "        os._exit(7)\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        f"    await send({{'type': 'http.response.body', 'body': b'{word}'}})\n"
    )


def _poll(url, until, timeout=20):
    """The first response that satisfies `until` (connection errors retried), or the last one."""
    deadline = time.monotonic() + timeout
    r = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=5)
            if until(r):
                return r
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return r


def _is_503(r):
    return r.status_code == 503


# (the broken source, the line the log must name): a syntax error Python points at, and an
# import that fails on the module's first line.
MISTAKES = {
    "syntax error": (_reload_app("one") + "def broken(:\n", len(_reload_app("one").splitlines()) + 1),
    "import error": ("import nonexistent_module\n" + _reload_app("one"), 1),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_reload_of_broken_code_answers_503_until_the_file_is_fixed(make_server, tmp_path, mistake):
    app = tmp_path / "reloadable.py"
    app.write_text(_reload_app("one"))
    s = make_server("reloadable:app", cwd=tmp_path, args=["--reload", "--workers", "2"])
    assert httpx.get(s.url).text == "one"
    source, line = MISTAKES[mistake]
    app.write_text(source)
    r = _poll(s.url, _is_503)
    assert r.status_code == 503, (r, s.log)
    assert r.headers["retry-after"] == "1" and r.text == "Service Unavailable"
    assert s.wait_for_log(f"reloadable.py:{line}); answering 503 until the next change"), s.log
    # Every request, not only the first, while it stays broken; and the server is still up.
    assert all(httpx.get(s.url).status_code == 503 for _ in range(5))
    assert s.proc.poll() is None
    app.write_text(_reload_app("two"))
    r = _poll(s.url, lambda r: r.status_code == 200)
    assert (r.status_code, r.text) == (200, "two"), s.log
    assert s.wait_for_log("workers reloaded")


def test_reload_ignore_worker_failure_keeps_the_server_up_until_the_next_change(make_server, tmp_path):
    app = tmp_path / "reloadable.py"
    app.write_text(_reload_app("one"))
    s = make_server("reloadable:app", cwd=tmp_path, args=["--reload", "--reload-ignore-worker-failure"])
    # The worker dies at run time, not at import: its in-flight request gets 502.
    assert httpx.get(s.url + "/crash").status_code == 502
    assert s.wait_for_log("it starts again on the next change (--reload-ignore-worker-failure)"), s.log
    assert _poll(s.url, _is_503).status_code == 503
    assert s.proc.poll() is None
    app.write_text(_reload_app("two"))
    r = _poll(s.url, lambda r: r.status_code == 200)
    assert (r.status_code, r.text) == (200, "two"), s.log


def test_reload_without_ignore_worker_failure_stops_when_a_worker_dies(make_server, tmp_path):
    # Granian's default: under --reload, a worker that dies at run time stops the server
    # (unless --respawn-failed-workers brings it back).
    app = tmp_path / "reloadable.py"
    app.write_text(_reload_app("one"))
    s = make_server("reloadable:app", cwd=tmp_path, args=["--reload"])
    assert httpx.get(s.url + "/crash").status_code == 502
    assert s.wait_exit(15) == 1
    assert "stopping, as --respawn-failed-workers is off" in s.log


def test_reload_ignore_worker_failure_starts_with_broken_code_and_waits_for_a_fix(make_server, tmp_path):
    app = tmp_path / "reloadable.py"
    app.write_text("import nonexistent_module\n")
    s = make_server("reloadable:app", cwd=tmp_path, args=["--reload", "--reload-ignore-worker-failure"])
    assert s.wait_for_log("reloadable.py:1); answering 503 until the next change"), s.log
    r = httpx.get(s.url)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    app.write_text(_reload_app("fixed"))
    r = _poll(s.url, lambda r: r.status_code == 200)
    assert (r.status_code, r.text) == (200, "fixed"), s.log


def test_access_log(make_server):
    s = make_server("raw_asgi:app", args=["--access-log"])
    httpx.get(s.url + "/scope?q=1")
    # Granian's default format: the path without its query string (that is %(query_string)s)
    assert s.wait_for_log('"GET /scope HTTP/1.1" 200')


def test_shutdown_does_not_wait_for_idle_keep_alive_connections():
    s = Server("raw_asgi:app").start()
    with httpx.Client(base_url=s.url) as c:  # holds its keep-alive connection open
        assert c.get("/scope").status_code == 200
        t0 = time.monotonic()
        assert s.stop(signal.SIGTERM) == 0
        assert time.monotonic() - t0 < 5

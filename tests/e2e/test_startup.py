"""Start-up that cannot hang, and what each worker is called: the start-up timeout, SIGTERM
during start-up, GRANIAN_TS_WORKER_ID across respawns, --process-name."""
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from _server import APPS, BIN, BUN, Server


def _run(*args, timeout=60):
    argv = [str(BUN), str(BIN), "serve", "--interface", "asgi", "--python", sys.executable,
            "--working-dir", str(APPS), "--port", "0", *args]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - t0


@pytest.mark.parametrize("target, phase", [("hang_import:app", "importing the app"),
                                           ("hang_lifespan:app", "running lifespan startup")])
def test_a_hanging_start_up_exits_nonzero_naming_worker_and_phase(target, phase):
    p, elapsed = _run("--startup-timeout", "2", target)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert f"worker 1 did not start within 2 s (it was {phase})" in out, out
    assert elapsed < 15


def test_sigterm_during_start_up_exits_promptly_and_nonzero():
    argv = [str(BUN), str(BIN), "serve", "--interface", "asgi", "--python", sys.executable,
            "--working-dir", str(APPS), "--port", "0", "hang_import:app"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        time.sleep(1.5)  # the worker is importing
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(10)
        assert code != 0
        assert time.monotonic() - t0 < 5
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_worker_ids_are_kept_across_respawns_and_workers_are_named(make_server):
    s = make_server("supervised:app", args=["--workers", "2", "--respawn-failed-workers", "--process-name", "shop"])
    ids = {}
    deadline = time.monotonic() + 15
    while len(ids) < 2 and time.monotonic() < deadline:
        with httpx.Client() as c:
            r = c.get(s.url + "/").json()
            ids[r["worker"]] = r["pid"]
    assert set(ids) == {"1", "2"}
    for wid, pid in ids.items():
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == f"shop-w{wid}"
    os.kill(ids["2"], signal.SIGKILL)
    assert s.wait_for_log("respawned", timeout=10)
    seen = {}
    deadline = time.monotonic() + 15
    while "2" not in seen and time.monotonic() < deadline:
        with httpx.Client() as c:
            r = c.get(s.url + "/").json()
            seen[r["worker"]] = r["pid"]
    assert seen.get("2") not in (None, ids["2"])

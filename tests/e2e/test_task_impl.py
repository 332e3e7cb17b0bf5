"""--task-impl rust: request coroutines stepped without asyncio Tasks (python/granian_ts/tasks.py),
against --task-impl asyncio, on a real server. FastAPI, RSGI and ASGI websockets run under both
in their own modules (their fixtures are parametrized)."""
import signal
import sys
import threading
import time

import httpx
import pytest


# The workers run on this Python: StepTasks below 3.12 only, as Granian's rust tasks.
@pytest.mark.parametrize("impl,name", [("asyncio", "Task"), ("rust", "StepTask" if sys.version_info < (3, 12) else "Task")])
def test_what_runs_the_request(make_server, impl, name):
    s = make_server("tasks_asgi:app", args=["--task-impl", impl])
    assert httpx.get(s.url + "/current").text == name
    assert httpx.get(s.url + "/timeout").text == "timed out"
    assert ("--task-impl rust is experimental" in s.log) == (impl == "rust")


def test_each_request_has_its_own_context(make_server):
    s = make_server("tasks_asgi:app", args=["--task-impl", "rust"])
    results = {}

    def get(i):
        results[i] = httpx.get(s.url + f"/ctx?{i}", timeout=10).text

    threads = [threading.Thread(target=get, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"unset {i}" for i in range(20)}


def wait_started(marker, timeout=10):
    started = marker.with_name(marker.name + ".started")
    deadline = time.monotonic() + timeout
    while not started.exists():
        assert time.monotonic() < deadline, "the request never reached the app"
        time.sleep(0.02)


def test_a_request_in_flight_finishes_on_sigterm(make_server, tmp_path):
    marker = tmp_path / "marker"
    s = make_server("tasks_asgi:app", args=["--task-impl", "rust"], env={"TASKS_MARKER": str(marker)})
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", httpx.get(s.url + "/sleep?1", timeout=10)))
    t.start()
    wait_started(marker)
    s.proc.send_signal(signal.SIGTERM)
    t.join(15)
    assert box["r"].status_code == 200 and box["r"].text == "slept"
    assert s.wait_exit(15) == 0


def test_a_request_past_the_shutdown_timeout_is_cancelled_at_exit(make_server, tmp_path):
    marker = tmp_path / "cancelled"
    s = make_server("tasks_asgi:app", args=["--task-impl", "rust", "--shutdown-timeout", "1"],
                    env={"TASKS_MARKER": str(marker)})
    box = {}

    def hang():
        try:
            box["r"] = httpx.get(s.url + "/hang", timeout=20)
        except httpx.HTTPError as exc:
            box["r"] = exc

    t = threading.Thread(target=hang)
    t.start()
    wait_started(marker)
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait_exit(20) == 0
    t.join(20)
    assert marker.read_text() == "cancelled"

"""Recycling under load: workers replaced by lifetime, request count and memory, with no
failed request, and jitter spreading the replacements."""
import re
import threading
import time

import httpx

from _load import Load

APP = "supervised:app"


def _replaced(log):
    return re.findall(r"worker (\d) replaced \(pid (\d+) → (\d+)\)", log)


def test_max_requests_with_jitter_recycles_without_failures(make_server):
    s = make_server(APP, args=["--workers", "2", "--workers-max-requests", "3000",
                               "--workers-max-requests-jitter", "2000", "--workers-kill-timeout", "5"])
    tally = Load(s.url + "/", seconds=8).result()
    print(tally.output)
    assert tally.requests > 6000, tally.output
    assert tally.failed == 0, tally.output
    deadline = time.monotonic() + 15
    while not _replaced(s.log) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_replaced(s.log)) >= 1, s.log
    budgets = {int(n) for n in re.findall(r"served (\d+) requests", s.log)}
    assert all(3000 <= b <= 5000 for b in budgets), budgets
    if len(re.findall(r"served (\d+) requests", s.log)) >= 3:
        assert len(budgets) > 1, budgets  # jitter: not every worker got the same budget


def test_lifetime_with_jitter_recycles_without_failures(make_server):
    s = make_server(APP, args=["--workers", "2", "--workers-lifetime", "2", "--workers-lifetime-jitter", "3",
                               "--workers-kill-timeout", "5"])
    tally = Load(s.url + "/", seconds=8).result()
    print(tally.output)
    assert tally.requests > 1000, tally.output
    assert tally.failed == 0, tally.output
    # Both workers outlived their lifetime during the load; the last replacement may still finish.
    deadline = time.monotonic() + 15
    while len(_replaced(s.log)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_replaced(s.log)) >= 2, s.log
    assert s.log.count("reached its lifetime") >= 2


def test_a_leaking_worker_is_recycled_at_the_rss_cap(make_server):
    s = make_server(APP, args=["--workers-max-rss", "120", "--rss-sample-interval", "1", "--workers-kill-timeout", "5"])
    stop = threading.Event()
    leak_failures = []

    def leak():
        with httpx.Client(base_url=s.url, timeout=10) as c:
            while not stop.is_set():
                r = c.get("/leak?mb=4")
                if r.status_code != 200:
                    leak_failures.append(r.status_code)
                time.sleep(0.05)

    t = threading.Thread(target=leak)
    t.start()
    load = Load(s.url + "/", seconds=6, connections=16)
    tally = load.result()
    stop.set()
    t.join()
    print(tally.output)
    assert "over --workers-max-rss 120" in s.log, s.log
    assert s.wait_for_log(" replaced (pid", timeout=15), s.log
    assert tally.failed == 0 and not leak_failures, (tally.output, leak_failures)

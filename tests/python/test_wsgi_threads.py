"""Blocking threads: apps run off the event loop, at most N at once, idle threads go away."""

import threading
import time

import pytest

from granian_ts.config import parse_args
from granian_ts.interfaces.wsgi import BlockingPool
from granian_ts.protocol import RESPONSE
from wsgi_fakes import disconnect, gated_app, json_app, serve_wsgi  # noqa: F401 (fixture)


def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_pool_starts_threads_on_demand_up_to_its_size():
    pool = BlockingPool(3, idle_timeout=30)
    gate = threading.Event()
    running = []
    try:
        for i in range(5):
            pool.submit(lambda i=i: (running.append(i), gate.wait(2)))
        wait_for(lambda: len(running) == 3)
        time.sleep(0.05)
        assert len(running) == 3 and pool.threads == 3  # the other two wait for a thread
        gate.set()
        wait_for(lambda: len(running) == 5)
        assert pool.threads == 3
    finally:
        gate.set()
        pool.shutdown()


def test_a_waiting_thread_is_reused_rather_than_a_new_one_started():
    pool = BlockingPool(8, idle_timeout=30)
    names = []
    try:
        for _ in range(20):
            done = threading.Event()
            pool.submit(lambda: (names.append(threading.current_thread().name), done.set()))
            assert done.wait(2)
            wait_for(lambda: pool._idle == 1)  # the thread is back waiting
        assert len(set(names)) == 1 and pool.threads == 1
    finally:
        pool.shutdown()


def test_idle_threads_exit_after_the_idle_timeout():
    pool = BlockingPool(4, idle_timeout=0.2)
    gate = threading.Event()
    started = []
    try:
        for _ in range(4):
            pool.submit(lambda: (started.append(1), gate.wait(2)))
        wait_for(lambda: len(started) == 4)
        assert pool.threads == 4
        gate.set()
        wait_for(lambda: pool.threads == 0)
        # and the pool starts threads again when work comes back
        done = threading.Event()
        pool.submit(done.set)
        assert done.wait(2)
    finally:
        pool.shutdown()


def test_a_task_is_never_stranded_by_a_thread_timing_out():
    # Submissions racing with idle timeouts: every task must still run.
    pool = BlockingPool(2, idle_timeout=0.001)
    count = []
    lock = threading.Lock()

    def task():
        with lock:
            count.append(1)

    try:
        for _ in range(300):
            pool.submit(task)
            if len(count) % 7 == 0:
                time.sleep(0.002)
        wait_for(lambda: len(count) == 300, timeout=5)
    finally:
        pool.shutdown()


def test_a_failing_task_does_not_kill_its_thread(caplog):
    pool = BlockingPool(1, idle_timeout=30)
    done = threading.Event()
    try:
        pool.submit(lambda: 1 / 0)
        pool.submit(done.set)
        assert done.wait(2)
        assert pool.threads == 1
        assert "ZeroDivisionError" in caplog.text
    finally:
        pool.shutdown()


async def test_slow_requests_overlap_on_n_threads_and_the_next_one_waits(serve_wsgi):
    gate = threading.Event()
    running = []

    def app(environ, start_response):
        running.append(threading.current_thread().name)
        gate.wait(2)
        start_response("200 OK", [])
        return [b"done"]

    bun = await serve_wsgi(app, blocking_threads=4)
    for i in range(1, 6):
        bun.request(stream=i)
    await bun.until(lambda: len(running) == 4)
    await bun.settle(50)
    assert len(running) == 4 and len(set(running)) == 4  # the 5th waits for a thread
    gate.set()
    for i in range(1, 6):
        assert (await bun.response(i)).body == b"done"


async def test_the_event_loop_is_never_blocked_by_the_app(serve_wsgi):
    gate = threading.Event()
    bun = await serve_wsgi(gated_app(gate), blocking_threads=2)
    bun.request(stream=1, path="/block")
    bun.request(stream=2, path="/quick")
    # While one thread is stuck in the app, another reads the frames and other requests finish.
    assert (await bun.response(2)).body == b"/quick"
    await disconnect(bun, 1)
    gate.set()
    await bun.settle(50)
    assert bun.of(1, RESPONSE) == []


async def test_requests_get_thread_local_state_of_their_thread(serve_wsgi):
    local = threading.local()

    def build(environ):
        local.value = environ["QUERY_STRING"]
        time.sleep(0.01)
        return local.value

    bun = await serve_wsgi(json_app(build), blocking_threads=3)
    for i in range(1, 10):
        bun.request(stream=i, query=f"q{i}")
    for i in range(1, 10):
        assert (await bun.response(i)).body == f'"q{i}"'.encode()


def test_worker_argv_takes_the_wsgi_interface_and_its_threads():
    config = parse_args([
        "--socket", "w.sock", "--target", "app:application", "--interface", "wsgi",
        "--blocking-threads", "16", "--blocking-threads-idle-timeout", "5",
    ])
    assert (config.interface, config.blocking_threads, config.blocking_threads_idle_timeout) == ("wsgi", 16, 5)
    defaults = parse_args(["--socket", "w.sock", "--target", "m:a"])
    assert (defaults.blocking_threads, defaults.blocking_threads_idle_timeout) == (1, 30)


@pytest.mark.parametrize("argv", [["--blocking-threads", "0"], ["--blocking-threads-idle-timeout", "x"]])
def test_bad_thread_options_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["--socket", "w.sock", "--target", "m:a", *argv])
    assert info.value.code == 2
    assert argv[0] in capsys.readouterr().err

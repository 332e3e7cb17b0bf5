"""Prometheus metrics (--metrics): scraped under load, parsed by prometheus_client's parser,
and the counters add up to the requests sent."""
import concurrent.futures
import socket
import subprocess
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from _server import Server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    r = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def value(families, name, sample=None, **labels):
    fam = families[name]
    total = 0.0
    for s in fam.samples:
        if (sample is None or s.name == sample) and all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


def wait_for(port, check, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        fams = scrape(port)
        if check(fams):
            return fams
        assert time.monotonic() < deadline, "metrics never added up"
        time.sleep(0.2)


def test_metrics_add_up_under_load(make_server, tmp_path):
    (tmp_path / "f.txt").write_bytes(b"0123456789")
    mport = free_port()
    s = make_server("raw_asgi:app", args=[
        "--metrics", "--metrics-port", str(mport), "--metrics-scrape-interval", "1",
        "--workers", "2", "--runtime-threads", "2", "--static-path-mount", str(tmp_path)])
    assert f"Metrics at: http://127.0.0.1:{mport}/metrics" in s.log
    ok, missing, static, posted = 600, 200, 100, 50
    paths = ["/scope"] * ok + ["/nope"] * missing + ["/static/f.txt"] * static
    body = b"x" * 1000
    scrapes = []
    stop = threading.Event()

    def scraper():  # scrape all through the load: every answer must parse
        while not stop.is_set():
            scrapes.append(scrape(mport))
            time.sleep(0.05)

    t = threading.Thread(target=scraper)
    t.start()
    try:
        with httpx.Client(base_url=s.url, limits=httpx.Limits(max_connections=32)) as c:
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                got = list(pool.map(lambda p: c.get(p).status_code, paths))
                got += list(pool.map(lambda i: c.post("/echo", content=body).status_code, range(posted)))
    finally:
        stop.set()
        t.join()
    assert got.count(200) == ok + static + posted and got.count(404) == missing
    assert len(scrapes) >= 3
    n = len(paths) + posted
    fams = wait_for(mport, lambda f: value(f, "granian_ts_request_duration_seconds", "granian_ts_request_duration_seconds_count") == n)
    assert value(fams, "granian_ts_requests", status_class="2xx", interface="asgi") == ok + static + posted
    assert value(fams, "granian_ts_requests", status_class="4xx") == missing
    assert value(fams, "granian_ts_requests", status_class="5xx") == 0
    assert value(fams, "granian_ts_request_duration_seconds", "granian_ts_request_duration_seconds_bucket", le="+Inf") == n
    assert value(fams, "granian_ts_request_bytes") == posted * len(body)
    assert value(fams, "granian_ts_response_bytes") >= static * 10 + posted * len(body)
    # Granian's series
    assert value(fams, "granian_static_requests_handled") == static
    assert value(fams, "granian_requests_handled") == n - static
    # gauges: one series per listener thread, idle now
    listeners = {s.labels["listener"] for s in fams["granian_ts_requests_in_flight"].samples}
    assert listeners == {"1", "2", "3", "4"}  # --workers 2 x --runtime-threads 2
    assert value(fams, "granian_ts_requests_in_flight") == 0
    assert value(fams, "granian_ts_backpressure_queue_length") == 0
    assert value(fams, "granian_ts_websockets_open") == 0
    rss = {s.labels["worker"]: s.value for s in fams["granian_ts_worker_rss_bytes"].samples}
    assert set(rss) == {"1", "2"} and all(v > 5e6 for v in rss.values())
    assert value(fams, "granian_ts_process_rss_bytes") > 10e6
    assert all(s.value > 0 for s in fams["granian_ts_listener_heap_bytes"].samples)


def test_restarts_by_reason_and_in_flight(make_server):
    mport = free_port()
    s = make_server("raw_asgi:app", args=["--metrics", "--metrics-port", str(mport), "--metrics-scrape-interval", "1",
                                         "--respawn-failed-workers"])
    fams = scrape(mport)
    assert value(fams, "granian_ts_worker_restarts") == 0
    # a request in flight shows in the gauge
    with httpx.Client(base_url=s.url, timeout=30) as c:
        done = concurrent.futures.ThreadPoolExecutor(1).submit(c.get, "/slow?delay=4")
        wait_for(mport, lambda f: value(f, "granian_ts_requests_in_flight") == 1)
        assert done.result().status_code == 200
    try:
        httpx.get(s.url + "/die", timeout=5)
    except httpx.HTTPError:
        pass
    assert s.wait_for_log("respawned", timeout=30)
    wait_for(mport, lambda f: value(f, "granian_ts_worker_restarts", reason="crash") == 1
             and value(f, "granian_workers_respawns_for_err") == 1)


def test_metrics_port_in_use_fails_start(make_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        s = Server("raw_asgi:app", args=["--metrics", "--metrics-port", str(port)])
        p = subprocess.run(s.argv, capture_output=True, text=True, timeout=60)
        assert p.returncode != 0
        assert str(port) in p.stdout + p.stderr

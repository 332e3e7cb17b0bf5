"""--reload in development: a change restarts the workers, a syntax error keeps the server up
(503, the error logged with file and line) until the next good save, ignore options hold."""
import time

import httpx


def _app(word):
    return (
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        f"    await send({{'type': 'http.response.body', 'body': b'{word}'}})\n"
    )


def _until(s, want, timeout=20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(s.url, timeout=5)
            last = (r.status_code, r.text)
            if want(r):
                return r
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise AssertionError(f"not reached; last: {last}\n{s.log}")


def test_a_syntax_error_serves_503_until_the_next_good_save(make_server, tmp_path):
    app = tmp_path / "dev.py"
    app.write_text(_app("one"))
    s = make_server("dev:app", cwd=tmp_path, args=["--reload", "--reload-tick", "100"])
    assert httpx.get(s.url).text == "one"
    app.write_text("def broken(:\n    pass\n")
    r = _until(s, lambda r: r.status_code == 503)
    assert r.headers.get("retry-after")
    assert s.wait_for_log("dev.py, line 1")  # the error, with its file and line
    assert s.proc.poll() is None
    app.write_text(_app("two"))
    _until(s, lambda r: r.status_code == 200 and r.text == "two")


def test_ignored_changes_do_not_restart(make_server, tmp_path):
    app = tmp_path / "dev2.py"
    app.write_text(_app("one"))
    (tmp_path / "data").mkdir()
    s = make_server("dev2:app", cwd=tmp_path, args=["--reload", "--reload-ignore-patterns", r"\.log$",
                                                     "--reload-ignore-dirs", "data"])
    pid_line_count = s.log.count("Application startup complete") or s.log.count("Listening")
    (tmp_path / "app.log").write_text("written by the app\n")
    (tmp_path / "data" / "cache.py").write_text("x = 1\n")
    time.sleep(1.0)  # a restart would have begun by now (tick 50 ms)
    assert "changes detected" not in s.log, s.log
    (tmp_path / "other.py").write_text("y = 2\n")
    assert s.wait_for_log("changes detected", timeout=10), s.log
    assert "other.py" in s.log
    assert pid_line_count >= 1

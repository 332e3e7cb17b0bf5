"""Operator options: --pid-file, --env-files, --factory, and the accepted no-op options."""
import os
import signal
import subprocess
import time

import httpx

from _server import Server


def test_factory_env_files_and_pid_file(make_server, tmp_path):
    a = tmp_path / "a.env"
    a.write_text("OPS_A=from-a\nOPS_B=from-a\nexport OPS_KEEP=file\n# comment\n")
    b = tmp_path / "b.env"
    b.write_text("OPS_B='from b'\nOPS_C=\"${OPS_A}-and-b\"\n")
    pid = tmp_path / "run" / "server.pid"
    pid.parent.mkdir()
    s = make_server("factory_app:create", args=["--factory", "--env-files", str(a), "--env-files", str(b),
                                               "--pid-file", str(pid)], env={"OPS_KEEP": "environment"})
    r = httpx.get(s.url + "/").json()
    assert r["calls"] == 1  # the factory ran once in the worker
    assert r["env"] == {"OPS_A": "from-a", "OPS_B": "from b", "OPS_C": "from-a-and-b", "OPS_D": None, "OPS_KEEP": "environment"}
    assert pid.read_text() == str(s.proc.pid)
    assert s.stop() == 0
    assert not pid.exists()


def test_env_files_from_env_var(make_server, tmp_path):
    a = tmp_path / "a.env"
    a.write_text("OPS_A=1\n")
    b = tmp_path / "b.env"
    b.write_text("OPS_D=2\n")
    s = make_server("factory_app:create", args=["--factory"], env={"GRANIAN_ENV_FILES": f"{a} {b}", "GRANIAN_FACTORY": "true"})
    assert httpx.get(s.url + "/").json()["env"]["OPS_D"] == "2"


def test_pid_file_of_a_live_process_is_refused(tmp_path):
    pid = tmp_path / "server.pid"
    pid.write_text(str(os.getpid()))  # this test process: alive
    s = Server("raw_asgi:app", args=["--pid-file", str(pid)])
    p = subprocess.run(s.argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--pid-file" in p.stderr
    assert pid.read_text() == str(os.getpid())  # left alone


def test_stale_pid_file_is_replaced(make_server, tmp_path):
    pid = tmp_path / "server.pid"
    dead = subprocess.Popen(["true"])
    dead.wait()
    pid.write_text(str(dead.pid))
    s = make_server("raw_asgi:app", args=["--pid-file", str(pid)])
    assert pid.read_text() == str(s.proc.pid)
    s.stop(signal.SIGINT)
    assert not pid.exists()


def test_factory_failures_are_one_clear_line(tmp_path):
    for target, text in (("factory_app:not_callable", "is not callable"), ("factory_app:broken", "no app today")):
        s = Server(target, args=["--factory"])
        p = subprocess.run(s.argv, capture_output=True, text=True, timeout=60)
        assert p.returncode != 0
        assert text in p.stdout + p.stderr


def test_missing_env_file_is_an_option_error(tmp_path):
    s = Server("raw_asgi:app", args=["--env-files", str(tmp_path / "nope.env")])
    p = subprocess.run(s.argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--env-files" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_no_effect_options_warn_once_each(make_server):
    s = make_server("raw_asgi:app", args=["--runtime-mode", "st", "--runtime-blocking-threads", "2", "--task-impl", "rust",
                                          "--loop", "rloop"])
    assert httpx.get(s.url + "/scope").status_code == 200
    assert s.log.count("--loop rloop is accepted for Granian compatibility and not available here") == 1
    assert s.log.count("--task-impl rust is experimental") == 1, s.log
    for flag in ("--runtime-mode", "--runtime-blocking-threads"):
        assert s.log.count(f"{flag} is accepted for Granian compatibility and changes nothing") == 1, s.log
    quiet = make_server("raw_asgi:app", args=["--runtime-mode", "auto"])
    assert "changes nothing" not in quiet.log


def _app(text):
    return (
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        f"    await send({{'type': 'http.response.body', 'body': b'{text}'}})\n"
    )


def test_reload_paths_and_ignores(make_server, tmp_path):
    app_dir, watched = tmp_path / "app", tmp_path / "lib"
    app_dir.mkdir()
    (watched / "skipme").mkdir(parents=True)
    (app_dir / "reloadable.py").write_text(_app("one"))
    s = make_server("reloadable:app", cwd=app_dir, args=[
        "--reload", "--reload-paths", str(watched), "--reload-ignore-dirs", "skipme",
        "--reload-ignore-patterns", r"^draft_"])
    assert httpx.get(s.url).text == "one"
    (app_dir / "reloadable.py").write_text(_app("two"))  # the working directory is not watched now
    for ignored in (watched / "skipme" / "x.py", watched / "draft_x.py", watched / "notes.txt"):
        ignored.write_text("x = 1\n")
    (watched / "trigger.py").write_text("x = 1\n")  # this one is: the worker restarts, and loads "two"
    deadline = time.monotonic() + 20
    while httpx.get(s.url).text != "two":
        assert time.monotonic() < deadline, s.log
        time.sleep(0.2)
    # One reload, for the watched file only (the line names what changed).
    changes = [l for l in s.log.splitlines() if "changes detected" in l]
    assert len(changes) == 1 and "trigger.py" in changes[0], s.log
    assert not any(name in changes[0] for name in ("x.py", "notes.txt", "reloadable.py")), s.log


def test_process_name(make_server):
    s = make_server("raw_asgi:app", args=["--process-name", "my-app-server"])
    with open(f"/proc/{s.proc.pid}/comm") as f:
        assert f.read().strip() == "my-app-server"
    worker = httpx.get(s.url + "/scope").json()["pid"]
    with open(f"/proc/{worker}/comm") as f:
        assert f.read().strip() == "my-app-serv-w1"

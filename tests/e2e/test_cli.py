"""The command as users run it: `node bin/granian-ts.mjs` (what npx ran until now), the installed
`bin/granian-ts` (sh, execs Bun), `bun bin/granian-ts.mjs` (in-process): prompt help, strict
options, signals and exit codes, Granian's option names."""
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from _server import APPS, BIN, BUN, ROOT, Server, raw_request, tree_pids

SH_BIN = ROOT / "bin" / "granian-ts"
RUNNERS = {"node": ["node", str(BIN)], "sh": [str(SH_BIN)], "bun": [str(BUN), str(BIN)]}


@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize("args", [["--help"], ["-h"], [], ["serve", "--help"], ["serve", "-h"], ["--version"]],
                         ids=lambda a: " ".join(a) or "no-args")
def test_help_and_version_print_and_exit_at_once(runner, args):
    t0 = time.monotonic()
    p = subprocess.run([*RUNNERS[runner], *args], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert "granian-ts" in p.stdout
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_an_unknown_option_exits_2_with_one_line(runner):
    p = subprocess.run([*RUNNERS[runner], "serve", "--frobnicate", "x", "raw_asgi:app"], capture_output=True, text=True,
                       timeout=20)
    assert (p.returncode, p.stderr, p.stdout) == (2, "error: no such option: --frobnicate\n", "")


def test_a_typo_starts_no_server():
    p = subprocess.run([str(BUN), str(BIN), "serve", "--interface", "asgi", "--acces-log", "--port", "0",
                        "--python", sys.executable, "--working-dir", str(APPS), "raw_asgi:app"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 2
    assert "Listening" not in p.stdout + p.stderr
    assert p.stderr == "error: no such option: --acces-log (did you mean --access-log?)\n"


@pytest.mark.parametrize("flag", ["--url-path-prefix", "--root-path"])
def test_url_path_prefix_and_its_alias(make_server, flag):
    s = make_server("raw_asgi:app", args=[flag, "/api"])
    assert httpx.get(s.url + "/scope").json()["root_path"] == "/api"


def test_url_path_prefix_from_granians_env_var(make_server):
    s = make_server("raw_asgi:app", env={"GRANIAN_URL_PATH_PREFIX": "/mnt"})
    assert httpx.get(s.url + "/scope").json()["root_path"] == "/mnt"


def test_granians_bool_flags_both_ways(make_server):
    s = make_server("raw_asgi:app", args=["--access-log", "--no-access-log", "--no-ws", "--ws"])
    httpx.get(s.url + "/scope")
    assert "GET /scope" not in s.log  # the last of --access-log / --no-access-log wins


def in_flight(url):
    """A streamed response the app is busy with: returns once its first chunk arrived (so the
    request is surely in flight), with a thread that reads the rest into `out`."""
    out, started = {}, threading.Event()

    def run():
        with httpx.stream("GET", url + "/stream?n=8&delay=0.2", timeout=15) as r:
            chunks = []
            for chunk in r.iter_text():
                chunks.append(chunk)
                started.set()
            out["status"], out["body"] = r.status_code, "".join(chunks)
        started.set()

    t = threading.Thread(target=run)
    t.start()
    assert started.wait(15)
    return t, out


def finished_whole(t, out):
    t.join()
    return out.get("status") == 200 and out["body"].count("chunk") == 8


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_node_shim_drains_bun_and_exits_0(sig):
    s = Server("raw_asgi:app", runner="node").start()
    bun = [p for p in tree_pids(s.proc.pid) if p != s.proc.pid]
    t, out = in_flight(s.url)
    assert s.stop(sig) == 0
    assert finished_whole(t, out)  # the in-flight request finished
    assert "received: shutting down" in s.log
    assert s.log.count("shutting down") == 1  # one signal, delivered once (Bun has its own group)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in bun):
        time.sleep(0.05)
    assert not [p for p in bun if _alive(p)]


def test_the_node_shim_exits_128_plus_the_signal_that_killed_bun():
    s = Server("raw_asgi:app", runner="node").start()
    bun = next(p for p in tree_pids(s.proc.pid) if p != s.proc.pid and "bun" in _exe(p))
    os.kill(bun, signal.SIGKILL)
    assert s.wait_exit(15) == 128 + signal.SIGKILL
    s.stop()


def test_the_node_shim_passes_bun_exit_code_through():
    p = subprocess.run(["node", str(BIN), "serve", "--workers", "0", "m:app"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2


def test_the_installed_bin_is_bun_itself(tmp_path):
    # bin/granian-ts execs Bun: the serving process is Bun, with the pid the caller started.
    s = Server("raw_asgi:app")
    s.argv = [str(SH_BIN), *s.argv[2:]]
    s.start()
    try:
        assert "bun" in _exe(s.proc.pid)
        assert httpx.get(s.url + "/scope").status_code == 200
    finally:
        assert s.stop(signal.SIGTERM) == 0


def _exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_npm_run_example_stops_with_npm(tmp_path):
    # `npm run example` runs `exec sh scripts/example.sh`, which execs the bin, which execs Bun:
    # npm's own child is Bun, so the SIGTERM npm forwards reaches it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("npm_")}
    proc = subprocess.Popen(["npm", "run", "example", "--", "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    s = Server("fastapi_app:app")
    s.proc = proc
    threading.Thread(target=s._reader, daemon=True).start()
    try:
        assert s._ready.wait(120) and s.port, s.log
        assert httpx.get(s.url + "/").status_code == 200
        tree = tree_pids(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not [p for p in tree if _alive(p)]
    finally:
        s.stop(signal.SIGKILL)

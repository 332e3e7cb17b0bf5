"""The npm package as users get it: `npm pack` → `npm install <tarball>` in an empty project →
`npx granian-ts …` and `bun x granian-ts …` (with the Bun that came with the install)."""
import glob
import os
import signal
import time
import subprocess
import sys

import httpx
import pytest

from _server import APPS, ROOT, Server, tree_pids
from test_cli import _alive, _exe, finished_whole, in_flight

# Not the variables of an outer `npm test`: they would point the inner npm at this checkout.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("npm_")}
SERVE = ["serve", "--interface", "asgi", "--port", "0", "--python", sys.executable, "--working-dir", str(APPS), "raw_asgi:app"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("package")
    pack = subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(tmp)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=120, check=True)
    tarball = tmp / pack.stdout.strip().splitlines()[-1]
    app = tmp / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}\n')
    p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", str(tarball)], cwd=app, env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return app, p.stdout + p.stderr


def bun_of(app):
    """The Bun binary npm installed with the package (the @oven/bun-<os>-<arch> dependency)."""
    found = [b for b in glob.glob(str(app / "node_modules/@oven/bun-*/bin/bun")) if os.path.getsize(b) > 1 << 20]
    assert len(found) == 1, found
    return found[0]


def runners(app):
    return {"npx": ["npx", "granian-ts"], "bunx": [bun_of(app), "x", "granian-ts"]}


def test_npm_install_prints_no_warning(installed):
    _, out = installed
    assert "warn" not in out.lower(), out


@pytest.mark.parametrize("via", ["npx", "bunx"])
def test_help_exits_0_promptly(installed, via):
    app, _ = installed
    for args in (["--help"], ["serve", "--help"], ["--version"]):
        p = subprocess.run([*runners(app)[via], *args], cwd=app, env=ENV, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        assert "granian-ts" in p.stdout


@pytest.mark.parametrize("via", ["npx", "bunx"])
def test_an_unknown_option_exits_2(installed, via):
    app, _ = installed
    p = subprocess.run([*runners(app)[via], "--foo"], cwd=app, env=ENV, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1] == "error: no such option: --foo"


def start(app, runner, serve=SERVE):
    """`serve` through `runner`, from the app's directory (where npx finds the installed bin)."""
    s = Server("raw_asgi:app")
    s.env = ENV
    # exec: the process the test signals is npx (npm) or bunx itself, as a user's would be.
    s.argv = ["sh", "-c", 'cd "$0" && exec "$@"', str(app), *runner, *serve]
    return s.start(timeout=60)


def test_the_package_carries_the_c_codec_and_its_workers_load_it(installed):
    # Built by `npm pack` (prepack: scripts/build-speedups.sh), shipped, loaded (README, --speedups).
    app, _ = installed
    assert (app / "node_modules/granian-ts/python/granian_ts/_speedups.abi3.so").is_file()
    s = start(app, runners(app)["npx"], [*SERVE[:-1], "codec_app:asgi_app"])
    try:
        assert httpx.get(s.url + "/").json()["codec"] == "C"
    finally:
        s.stop(signal.SIGKILL)


# (how, signal, who gets it, the exit code of the command the user ran)
CASES = [
    # npx: npm forwards SIGTERM to its `sh -c`, which dies; Bun sees its parent go and drains.
    # npm itself re-raises the signal and ends as killed by it, at once.
    ("npx", signal.SIGTERM, "leader", -signal.SIGTERM),
    # Ctrl-C in a terminal: the whole group gets SIGINT; npm ends as killed by SIGINT once Bun is done.
    ("npx", signal.SIGINT, "group", -signal.SIGINT),
    # bunx passes the signal to Bun and ends with Bun's exit code.
    ("bunx", signal.SIGTERM, "leader", 0),
    ("bunx", signal.SIGINT, "leader", 0),
]


@pytest.mark.parametrize("via,sig,target,code", CASES, ids=[f"{c[0]}-{c[1].name}-{c[2]}" for c in CASES])
def test_serve_then_a_signal_drains(installed, via, sig, target, code):
    app, _ = installed
    s = start(app, runners(app)[via])
    try:
        assert httpx.get(s.url + "/scope").status_code == 200
        tree = tree_pids(s.proc.pid)
        # Nothing idle beside Bun: no Node process but npm's own (the command the user ran).
        nodes = [p for p in tree if p != s.proc.pid and os.path.basename(_exe(p)) == "node"]
        assert nodes == [], [(p, _exe(p)) for p in tree]
        t, out = in_flight(s.url)
        if target == "group":
            os.killpg(s.proc.pid, sig)
        else:
            s.proc.send_signal(sig)
        assert finished_whole(t, out)  # the in-flight request finished
        assert s.proc.wait(30) == code
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in tree):
            time.sleep(0.05)
        assert not [p for p in tree if _alive(p)]  # no orphan left serving the port
        assert "shutting down" in s.log
        assert "Application shutdown complete" in s.log  # lifespan shutdown ran: a graceful stop
    finally:
        s.stop(signal.SIGKILL)


def _bun_environ(s):
    """The environment of the Bun process serving `s` (bunx is a Bun process too: the one running cli/main.ts)."""

    def cmdline(p):
        with open(f"/proc/{p}/cmdline", "rb") as f:
            return f.read()

    buns = [p for p in tree_pids(s.proc.pid) if b"cli/main.ts" in cmdline(p)]
    assert len(buns) == 1, [(p, cmdline(p)) for p in tree_pids(s.proc.pid)]
    with open(f"/proc/{buns[0]}/environ", "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


@pytest.mark.parametrize("via", ["npx", "bunx"])
def test_the_command_sizes_the_js_heap_unless_told(installed, via):
    # bin/granian-ts tells JavaScriptCore its RAM and its young generation's size (README,
    # "Installing"); a value the user set is kept.
    app, _ = installed
    s = start(app, runners(app)[via])
    try:
        env = _bun_environ(s)
        assert env.get(b"BUN_JSC_largeHeapSize") == b"12582912"
        assert int(env.get(b"BUN_JSC_forceRAMSize", b"0")) > 0
    finally:
        s.stop(signal.SIGKILL)
    s = Server("raw_asgi:app")
    s.env = {**ENV, "BUN_JSC_largeHeapSize": "33554432"}
    s.argv = ["sh", "-c", 'cd "$0" && exec "$@"', str(app), *runners(app)[via], *SERVE]
    s.start(timeout=60)
    try:
        assert _bun_environ(s).get(b"BUN_JSC_largeHeapSize") == b"33554432"
        assert httpx.get(s.url + "/scope").status_code == 200
    finally:
        s.stop(signal.SIGKILL)

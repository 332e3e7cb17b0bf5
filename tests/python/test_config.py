"""The worker argv, as Bun passes it."""

import pytest

from granian_ts.config import Config, parse_args


def test_full_argv():
    config = parse_args(
        [
            "--socket", "/tmp/w.sock", "--interface", "asginl", "--target", "main:app", "--loop", "asyncio",
            "--working-dir", "/srv", "--server-host", "0.0.0.0", "--server-port", "3000",
            "--log-level", "debug", "--root-path", "/api",
        ]
    )
    assert config == Config(
        socket="/tmp/w.sock", interface="asginl", target="main:app", loop="asyncio", working_dir="/srv",
        server_host="0.0.0.0", server_port=3000, log_level="debug", root_path="/api",
    )


def test_defaults():
    config = parse_args(["--socket", "w.sock", "--target", "main:app"])
    assert (config.interface, config.loop, config.log_level, config.root_path) == ("asgi", "auto", "info", "")


@pytest.mark.parametrize("argv", [["--target", "main:app"], ["--socket", "w.sock", "--target", "m:a", "--interface", "nope"]])
def test_bad_argv_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2

"""The worker argv, as Bun passes it."""

from dataclasses import fields

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


def test_equals_form_and_flags():
    config = parse_args(["--socket=w.sock", "--target", "m:a", "--server-port=9", "--factory", "--root-path", ""])
    assert (config.socket, config.server_port, config.factory, config.root_path) == ("w.sock", 9, True, "")


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--bogus", "1"], "--bogus"),
        (["--server-port", "x"], "--server-port"),
        (["--factory=yes"], "--factory"),
        (["--log-level"], "--log-level"),
    ],
)
def test_a_bad_option_exits_2_naming_it(argv, named, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["--socket", "w.sock", "--target", "m:a", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert all(f"--{option.name.replace('_', '-')}" in out for option in fields(Config))

"""Worker options, each declared once; the argv parser is derived from the declarations.

Bun always passes every option, so the defaults only matter when the worker is started by
hand (debugging) — they mirror the CLI defaults. The parser is a few lines rather than
argparse: argparse's help formatter imports shutil, and with it zlib, bz2 and lzma, about
1 MiB in every worker for an argv that only Bun writes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, NoReturn, Optional, Sequence

from .interfaces import INTERFACES
from .logs import LOG_LEVELS
from .loops import LOOPS


def _option(help: str, **spec: Any) -> Dict[str, Any]:
    """`spec`: `required`, `choices`, `type` (text -> value, ValueError if bad), `flag` (no value)."""
    return {"help": help, **spec}


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"invalid integer value: {text!r}") from None


def _at_least(minimum: int) -> Any:
    def parse(text: str) -> int:
        value = _integer(text)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return parse


@dataclass(frozen=True)
class Config:
    socket: str = field(default="", metadata=_option("Unix socket path to listen on", required=True))
    target: str = field(default="", metadata=_option("the app as module:attr (attr defaults to app)", required=True))
    interface: str = field(default="asgi", metadata=_option("application interface", choices=INTERFACES))
    loop: str = field(default="auto", metadata=_option("event loop (auto = uvloop when installed)", choices=tuple(LOOPS)))
    working_dir: str = field(default=".", metadata=_option("directory to chdir into and import the app from"))
    server_host: str = field(default="127.0.0.1", metadata=_option("host Bun listens on, for scope['server']"))
    server_port: int = field(default=8000, metadata=_option("port Bun listens on, for scope['server']", type=_integer))
    server_unix: bool = field(default=False, metadata=_option("Bun listens on a Unix socket: server_host is its path", flag=True))
    log_level: str = field(default="info", metadata=_option("worker log level", choices=tuple(LOG_LEVELS)))
    log_format: str = field(default="text", metadata=_option("text, or json: one JSON object a line", choices=("text", "json")))
    log_config: str = field(default="", metadata=_option("a logging dictConfig as JSON (Granian's --log-config), applied first"))
    process_name: str = field(default="", metadata=_option("name of this worker process as ps shows it (--process-name)"))
    factory: bool = field(default=False, metadata=_option("the target is a callable returning the app", flag=True))
    root_path: str = field(default="", metadata=_option("ASGI root_path / WSGI SCRIPT_NAME (mount point behind a proxy)"))
    task_impl: str = field(
        default="asyncio", metadata=_option("how request coroutines run: asyncio Tasks, or StepTasks (rust)", choices=("asyncio", "rust"))
    )
    gc_freeze: bool = field(default=False, metadata=_option("gc.collect() and gc.freeze() once the app is loaded", flag=True))
    blocking_threads: int = field(default=1, metadata=_option("threads running a WSGI app", type=_at_least(1)))
    blocking_threads_idle_timeout: int = field(
        default=30, metadata=_option("seconds an idle blocking thread is kept", type=_at_least(1))
    )


PROG = "python -m granian_ts"
_OPTIONS = {"--" + option.name.replace("_", "-"): option for option in fields(Config)}


def _fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)  # worker.EXIT_USAGE: what the supervisor reads as bad options


def usage() -> str:
    lines = [f"usage: {PROG} --socket PATH --target MODULE:ATTR [options]", "", "granian-ts Python worker", ""]
    for flag, option in _OPTIONS.items():
        spec = option.metadata
        choices = spec.get("choices")
        value = "" if spec.get("flag") else " {" + ",".join(choices) + "}" if choices else " " + option.name.upper()
        lines.append(f"  {flag}{value}\n      {spec['help']}")
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> Config:
    """`--name value`, `--name=value` or `--flag`; a bad or unknown option exits 2 naming it."""
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    values: Dict[str, Any] = {}
    at = 0
    while at < len(args):
        arg = args[at]
        at += 1
        if arg in ("-h", "--help"):
            print(usage())
            raise SystemExit(0)
        flag, eq, inline = arg.partition("=")
        option = _OPTIONS.get(flag)
        if option is None:
            _fail(f"unrecognized arguments: {arg}")
        spec = option.metadata
        if spec.get("flag"):
            if eq:
                _fail(f"argument {flag}: ignored explicit argument {inline!r}")
            values[option.name] = True
            continue
        if eq:
            text = inline
        elif at < len(args):
            text = args[at]
            at += 1
        else:
            _fail(f"argument {flag}: expected one argument")
        try:
            value = spec.get("type", str)(text)
        except ValueError as exc:
            _fail(f"argument {flag}: {exc}")
        choices = spec.get("choices")
        if choices is not None and value not in choices:
            _fail(f"argument {flag}: invalid choice: {text!r} (choose from {', '.join(choices)})")
        values[option.name] = value
    missing = [flag for flag, option in _OPTIONS.items() if option.metadata.get("required") and option.name not in values]
    if missing:
        _fail("the following arguments are required: " + ", ".join(missing))
    return Config(**values)

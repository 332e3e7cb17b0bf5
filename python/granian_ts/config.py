"""Worker options, each declared once; the argv parser is derived from the declarations.

Bun always passes every option, so the defaults only matter when the worker is started by
hand (debugging) — they mirror the CLI defaults.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Optional, Sequence

from .interfaces import INTERFACES
from .logs import LOG_LEVELS
from .loops import LOOPS


def _option(help: str, **argparse_kwargs: Any) -> Dict[str, Any]:
    return {"help": help, **argparse_kwargs}


def _at_least(minimum: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its error message
    return parse


@dataclass(frozen=True)
class Config:
    socket: str = field(default="", metadata=_option("Unix socket path to listen on", required=True))
    target: str = field(default="", metadata=_option("the app as module:attr (attr defaults to app)", required=True))
    interface: str = field(default="asgi", metadata=_option("application interface", choices=INTERFACES))
    loop: str = field(default="auto", metadata=_option("event loop (auto = uvloop when installed)", choices=tuple(LOOPS)))
    working_dir: str = field(default=".", metadata=_option("directory to chdir into and import the app from"))
    server_host: str = field(default="127.0.0.1", metadata=_option("host Bun listens on, for scope['server']"))
    server_port: int = field(default=8000, metadata=_option("port Bun listens on, for scope['server']", type=int))
    server_unix: bool = field(default=False, metadata=_option("Bun listens on a Unix socket: server_host is its path", action="store_true"))
    log_level: str = field(default="info", metadata=_option("worker log level", choices=tuple(LOG_LEVELS)))
    log_format: str = field(default="text", metadata=_option("text, or json: one JSON object a line", choices=("text", "json")))
    log_config: str = field(default="", metadata=_option("a logging dictConfig as JSON (Granian's --log-config), applied first"))
    process_name: str = field(default="", metadata=_option("name of this worker process as ps shows it (--process-name)"))
    factory: bool = field(default=False, metadata=_option("the target is a callable returning the app", action="store_true"))
    root_path: str = field(default="", metadata=_option("ASGI root_path / WSGI SCRIPT_NAME (mount point behind a proxy)"))
    blocking_threads: int = field(default=1, metadata=_option("threads running a WSGI app", type=_at_least(1)))
    blocking_threads_idle_timeout: int = field(
        default=30, metadata=_option("seconds an idle blocking thread is kept", type=_at_least(1))
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m granian_ts", description="granian-ts Python worker")
    for option in fields(Config):
        parser.add_argument(
            "--" + option.name.replace("_", "-"),
            dest=option.name,
            default=option.default,
            **option.metadata,
        )
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> Config:
    return Config(**vars(_build_parser().parse_args(argv)))

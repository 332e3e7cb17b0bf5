"""Worker logging: every record goes to stderr, which Bun forwards to its own output."""

from __future__ import annotations

import json
import logging
import sys
import time

LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "notset": logging.DEBUG,
}

# The tag names the module and the worker pid, so interleaved output of several workers
# stays readable once Bun has merged their stderr streams.
LOG_FORMAT = "[%(name)s:%(process)d] %(levelname)s %(message)s"


class JSONFormatter(logging.Formatter):
    """One JSON object a line (--log-format json), with the keys the Bun side writes."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


def configure_logging(level: str, fmt: str = "text", config_path: str = "") -> None:
    """Configure the `granian_ts` logger tree; the app's own logging stays its business, unless
    a --log-config file (Granian's: a dictConfig in JSON) configures it, as it does in Granian."""
    if config_path:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        config.setdefault("version", 1)
        config.setdefault("disable_existing_loggers", False)
        # Imported only for a config file: logging.config and the handlers it pulls in are
        # about 1.5 MiB of RSS in every worker.
        from logging.config import dictConfig

        dictConfig(config)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("granian_ts")
    logger.handlers[:] = [handler]
    logger.setLevel(LOG_LEVELS[level])
    logger.propagate = False

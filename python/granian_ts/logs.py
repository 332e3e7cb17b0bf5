"""Worker logging: every record goes to stderr, which Bun forwards to its own output."""

from __future__ import annotations

import logging
import sys

LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}

# The tag names the module and the worker pid, so interleaved output of several workers
# stays readable once Bun has merged their stderr streams.
LOG_FORMAT = "[%(name)s:%(process)d] %(levelname)s %(message)s"


def configure_logging(level: str) -> None:
    """Configure the `granian_ts` logger tree only; the app's own logging stays its business."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("granian_ts")
    logger.handlers[:] = [handler]
    logger.setLevel(LOG_LEVELS[level])
    logger.propagate = False

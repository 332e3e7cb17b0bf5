"""The worker's process title (--process-name), with the standard library only.

Linux keeps a 15-byte name per process (`comm`: what top, `ps -o comm` and `pgrep` show),
set with prctl(PR_SET_NAME); the full title is on the command line Bun gave us
(`--process-name ...`), which `ps aux` shows. Elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

PR_SET_NAME = 15


def set_process_title(title: str) -> None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_NAME, ctypes.c_char_p(title.encode()[:15]), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME) failed")
    except (OSError, AttributeError) as exc:
        logger.debug("could not set the process title: %s", exc)

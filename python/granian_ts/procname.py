"""--process-name for a worker: its name as ps/top show it (Linux prctl(PR_SET_NAME), 15 bytes)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_NAME = 15


def set_process_name(name: str) -> bool:
    if not name or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False

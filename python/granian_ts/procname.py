"""--process-name for a worker: its name as ps/top show it (Linux prctl(PR_SET_NAME), 15 bytes)."""

from __future__ import annotations

import sys

PR_SET_NAME = 15


def set_process_name(name: str) -> bool:
    if not name or not sys.platform.startswith("linux"):
        return False
    # Imported here: ctypes (and libffi) is about 1 MiB of RSS a worker without a name skips.
    import ctypes

    try:
        # The process's own symbols, libc's among them: no library search (ctypes.util runs
        # ldconfig for it).
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False

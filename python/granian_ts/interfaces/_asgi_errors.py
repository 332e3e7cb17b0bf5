"""The error an ASGI `send` raises for a message it cannot send (HTTP and websockets alike)."""

from __future__ import annotations


def unsupported(detail: str) -> RuntimeError:
    """Granian's error: str(exc) is exactly "Unsupported ASGI message", as there (apps and their
    tests match on it); what was wrong goes in a note, which the traceback in the log shows."""
    exc = RuntimeError("Unsupported ASGI message")
    if hasattr(exc, "add_note"):  # Python 3.11+
        exc.add_note(detail)
    else:
        exc.args = (f"Unsupported ASGI message: {detail}",)
    return exc

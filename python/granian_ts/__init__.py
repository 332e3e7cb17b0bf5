"""granian-ts Python worker: serves a Python app to the Bun server over a Unix socket.

Stdlib only (uvloop is used when installed). See docs/protocol.md for the wire format.
"""

__version__ = "0.1.0"

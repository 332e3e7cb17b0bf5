"""The RSGI types an app annotates with, as `granian.rsgi` exports them.

    from granian_ts.rsgi import HTTPProtocol, Scope

    async def app(scope: Scope, protocol: HTTPProtocol) -> None:
        protocol.response_str(200, [("content-type", "text/plain")], "hello")

The classes are the ones the worker hands to the app (python/granian_ts/interfaces/rsgi.py).
WebSockets are not served yet, so there is no WebsocketProtocol.
"""

from .interfaces.rsgi import (
    RSGI_VERSION,
    Headers,
    HTTPProtocol,
    HTTPStreamTransport,
    RSGIProtocolClosed,
    RSGIProtocolError,
    Scope,
)

# The names `granian.rsgi` uses for the errors.
ProtocolError = RSGIProtocolError
ProtocolClosed = RSGIProtocolClosed

__all__ = [
    "RSGI_VERSION",
    "Headers",
    "HTTPProtocol",
    "HTTPStreamTransport",
    "ProtocolClosed",
    "ProtocolError",
    "RSGIProtocolClosed",
    "RSGIProtocolError",
    "Scope",
]

"""The RSGI types an app annotates with, as `granian.rsgi` exports them.

    from granian_ts.rsgi import HTTPProtocol, Scope

    async def app(scope: Scope, protocol: HTTPProtocol) -> None:
        protocol.response_str(200, [("content-type", "text/plain")], "hello")

The classes are the ones the worker hands to the app (python/granian_ts/interfaces/rsgi.py).
`WebsocketProtocol.accept()` gives a `WebsocketTransport`, whose `receive()` returns
`WebsocketMessage`s (`kind` a `WebsocketMessageType`).
"""

from .interfaces.rsgi import (
    RSGI_VERSION,
    Headers,
    HTTPProtocol,
    HTTPStreamTransport,
    RSGIProtocolClosed,
    RSGIProtocolError,
    Scope,
    WebsocketMessage,
    WebsocketMessageType,
    WebsocketProtocol,
    WebsocketScope,
    WebsocketTransport,
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
    "WebsocketMessage",
    "WebsocketMessageType",
    "WebsocketProtocol",
    "WebsocketScope",
    "WebsocketTransport",
]

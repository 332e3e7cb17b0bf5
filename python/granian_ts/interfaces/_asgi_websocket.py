"""ASGI websockets (https://asgi.readthedocs.io/en/latest/specs/www.html#websocket), spec 2.3,
with the denial response extension (`websocket.http.response`), over a `WebsocketChannel`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set

from ..protocol import encode_response_head_prefix
from ._asgi_errors import unsupported as _unsupported
from ._websocket import WebsocketChannel

if TYPE_CHECKING:
    from ..connection import Connection

logger = logging.getLogger(__name__)


_FORBIDDEN = encode_response_head_prefix(403, [(b"content-length", b"0")])
_ERROR_BODY = b"Internal server error"
_ERROR_HEAD = encode_response_head_prefix(
    500,
    [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(_ERROR_BODY))],
)
# RFC 6455 §7.4.1: the server hit a condition that kept it from fulfilling the request.
_INTERNAL_ERROR = 1011


class ClientDisconnected(OSError):
    """`send` on a websocket the client already closed (ASGI spec: an IOError subclass)."""


def subprotocols_of(headers: List[Any]) -> List[str]:
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            return [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    return []


class ASGIWebsocket(WebsocketChannel):
    """One websocket as an ASGI app drives it."""

    __slots__ = ("_connect_sent", "_denial", "_denial_body")

    def __init__(self, conn: "Connection", stream_id: int) -> None:
        super().__init__(conn, stream_id)
        self._connect_sent = False
        self._denial: Optional[bytes] = None  # the head of a websocket.http.response, once started
        self._denial_body: List[bytes] = []

    async def run(self, app: Any, scope: Dict[str, Any], tasks: Set[asyncio.Task]) -> None:
        try:
            await app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            self._fail()
            raise
        except Exception:
            logger.exception("Exception in ASGI application")
            self._fail()
        else:
            if not self.finished and not self.gone:
                if self.accepted:
                    self.close(1000)
                else:
                    # As Granian answers it: the app did not take the websocket, so it is refused.
                    self.deny(_FORBIDDEN)
        finally:
            self.conn.end_stream(self._id, self)
            tasks.discard(self._task)

    def _fail(self) -> None:
        if self.finished or self.gone:
            return
        if self.accepted:
            self.close(_INTERNAL_ERROR)
        elif self._denial is not None:
            # The app's own denial response had started: its status is not ours to keep.
            self.deny(_ERROR_HEAD, _ERROR_BODY)
        else:
            self.deny(_FORBIDDEN)  # Granian refuses the upgrade with 403 here too

    async def receive(self) -> Dict[str, Any]:
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        # A receive() before accept (Quart reads from its own task while the handler decides)
        # waits for the accept and then gets the client's messages like any other.
        while not self.accepted and not self.gone and not self.finished:
            await self._wait()
        if self.accepted:
            message = await self.next_message()
            if message is not None:
                data, binary = message
                if binary:
                    return {"type": "websocket.receive", "bytes": data}
                return {"type": "websocket.receive", "text": data.decode("utf-8")}
        return {"type": "websocket.disconnect", "code": self.close_code, "reason": self.close_reason}

    async def send(self, message: Dict[str, Any]) -> None:
        try:
            mtype = message["type"]
        except (KeyError, TypeError):
            raise _unsupported(f"not a message: {message!r:.200}") from None
        if self.gone:
            if mtype == "websocket.close":
                return  # already closed: nothing to do
            raise ClientDisconnected(f"the client closed the websocket ({self.close_code})")
        if self.finished:
            raise RuntimeError(f"Unexpected ASGI message '{mtype}', after sending 'websocket.close' or a response.")
        if mtype == "websocket.send":
            if not self.accepted:
                raise RuntimeError("Unexpected ASGI message 'websocket.send', before 'websocket.accept'.")
            text = message.get("text")
            if text is not None:
                if type(text) is not str:
                    raise _unsupported(f"websocket.send 'text' must be str, got {type(text).__name__}")
                await self.send_message(text.encode("utf-8"), False)
            else:
                data = message.get("bytes")
                if data is None:
                    raise RuntimeError("websocket.send needs 'bytes' or 'text'.")
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise _unsupported(f"websocket.send 'bytes' must be bytes, got {type(data).__name__}")
                await self.send_message(bytes(data), True)
        elif mtype == "websocket.accept":
            if self.accepted or self._denial is not None:
                raise RuntimeError("Unexpected ASGI message 'websocket.accept'.")
            try:
                headers = list(message.get("headers") or ())
                subprotocol = message.get("subprotocol")
                if subprotocol:
                    headers.append((b"sec-websocket-protocol", subprotocol.encode("latin-1")))
                self.accept(headers)
            except (AttributeError, TypeError, ValueError) as exc:
                raise _unsupported(f"websocket.accept {exc}") from None
        elif mtype == "websocket.close":
            if self.accepted:
                code, reason = message.get("code") or 1000, message.get("reason") or ""
                # RFC 6455 §5.5, §7.4: a close frame carries a code of 1000..4999 and at most
                # 123 bytes of UTF-8 reason.
                if type(code) is not int or not 1000 <= code <= 4999:
                    raise _unsupported(f"websocket.close 'code' must be an int in 1000..4999, got {code!r}")
                if type(reason) is not str or len(reason.encode("utf-8")) > 123:
                    raise _unsupported(f"websocket.close 'reason' must be a str of at most 123 UTF-8 bytes, got {reason!r:.200}")
                self.close(code, reason)
            elif self._denial is None:
                self.deny(_FORBIDDEN)  # spec: a close before accept is an HTTP 403
            else:
                raise RuntimeError("Unexpected ASGI message 'websocket.close' during a denial response.")
        elif mtype == "websocket.http.response.start":
            if self.accepted or self._denial is not None:
                raise RuntimeError("Unexpected ASGI message 'websocket.http.response.start'.")
            status = message.get("status")
            if type(status) is not int or not 200 <= status <= 599:
                raise _unsupported(f"websocket.http.response.start status must be an int in 200..599, got {status!r}")
            try:
                self._denial = encode_response_head_prefix(status, message.get("headers", ()))
            except (TypeError, ValueError) as exc:
                raise _unsupported(f"websocket.http.response.start {exc}") from None
        elif mtype == "websocket.http.response.body":
            if self._denial is None:
                raise RuntimeError("Unexpected ASGI message 'websocket.http.response.body' before its start.")
            self._denial_body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.deny(self._denial, b"".join(self._denial_body))
        else:
            raise _unsupported(f"type {mtype!r} on a websocket")

    async def send_message(self, data: bytes, binary: bool) -> None:
        if not await self.send_data(data, binary):
            raise ClientDisconnected(f"the client closed the websocket ({self.close_code})")

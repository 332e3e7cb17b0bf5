"""A minimal HTTP/3 GET with aioquic: `python _h3client.py URL CAFILE` prints the status line
and the body. (curl in Debian has no HTTP/3.)"""
import asyncio
import ssl
import sys
from urllib.parse import urlparse

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.done = asyncio.get_running_loop().create_future()
        self.status = None
        self.body = b""

    def quic_event_received(self, event):
        for ev in self.h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.status = dict(ev.headers).get(b":status")
            elif isinstance(ev, DataReceived):
                self.body += ev.data
            if getattr(ev, "stream_ended", False) and not self.done.done():
                self.done.set_result(None)

    async def get(self, url):
        u = urlparse(url)
        sid = self._quic.get_next_available_stream_id()
        self.h3.send_headers(sid, [
            (b":method", b"GET"), (b":scheme", b"https"), (b":authority", u.netloc.encode()),
            (b":path", (u.path or "/").encode()), (b"user-agent", b"aioquic"),
        ], end_stream=True)
        self.transmit()
        await asyncio.wait_for(self.done, 10)


async def main(url, cafile):
    u = urlparse(url)
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    config.load_verify_locations(cafile)
    async with connect(u.hostname, u.port, configuration=config, create_protocol=Client) as client:
        await client.get(url)
        print(client.status.decode() if client.status else "none")
        print(client.body.decode(errors="replace"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

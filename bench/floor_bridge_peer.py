"""The Python end of bench/floor_bridge.ts: writes back whatever it reads on a Unix socket."""

import asyncio
import os
import sys

try:
    import uvloop
except ImportError:  # the bench compares like with like only with uvloop, as the servers run
    uvloop = None


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(path):
    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.get_running_loop().create_unix_server(Echo, path)
    await server.serve_forever()


if __name__ == "__main__":
    (uvloop.run if uvloop else asyncio.run)(main(sys.argv[1]))

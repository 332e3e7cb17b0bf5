"""A real Quart app with websockets, served by granian-ts (`quart_app:app`).

Quart reads a websocket from a task of its own that calls `receive()` from the start, while the
handler decides whether to accept: the shape that hung when receive() before accept only waited
for the disconnect.
"""
import asyncio

from quart import Quart, websocket

app = Quart(__name__)


@app.route("/")
async def index():
    return "ok"


@app.websocket("/echo")
async def echo():
    while True:
        data = await websocket.receive()
        if data == "bye":
            await websocket.close(1000)
            return
        await websocket.send(f"echo {data}")


@app.websocket("/late")
async def late():
    # Quart's reader task is already waiting in receive() when this accepts.
    await asyncio.sleep(0.2)
    await websocket.accept()
    data = await websocket.receive()
    await websocket.send(f"late {data}")


@app.websocket("/deny")
async def deny():
    return "not for you", 401

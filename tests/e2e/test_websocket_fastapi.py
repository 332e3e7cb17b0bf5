"""A FastAPI websocket chat (apps/ws_fastapi_chat.py): several clients broadcast to each other."""
import json
import time

import httpx
from _ws import connect, run, ws_url


def test_chat_broadcasts_to_every_client(make_server):
    s = make_server("ws_fastapi_chat:app")
    names = ["ann", "bob", "cy", "dee"]

    async def go():
        sockets = []
        for name in names:
            ws = await connect(ws_url(s, f"/chat/{name}"))
            assert json.loads(await ws.recv())["joined"] == name
            sockets.append(ws)
        assert httpx.get(s.url + "/count").json() == {"clients": 4}
        for ws, name in zip(sockets, names):
            await ws.send(f"hi from {name}")
        got = []
        for ws in sockets:
            got.append(sorted([json.loads(await ws.recv())["text"] for _ in names]))
        for ws in sockets:
            await ws.close()
        return got

    expected = sorted(f"hi from {name}" for name in names)
    assert run(go()) == [expected] * len(names)
    # Every client's close reached the app (its finally ran).
    for _ in range(100):
        if httpx.get(s.url + "/count").json() == {"clients": 0}:
            break
        time.sleep(0.05)
    assert httpx.get(s.url + "/count").json() == {"clients": 0}

"""A FastAPI websocket chat: every message goes to every connected client."""
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
clients: "set[WebSocket]" = set()


@app.get("/count")
async def count():
    return {"clients": len(clients)}


@app.websocket("/chat/{name}")
async def chat(websocket: WebSocket, name: str):
    await websocket.accept()
    clients.add(websocket)
    try:
        await websocket.send_json({"joined": name, "clients": len(clients)})
        while True:
            text = await websocket.receive_text()
            for client in list(clients):
                await client.send_json({"from": name, "text": text})
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(websocket)

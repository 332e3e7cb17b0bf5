"""The FastAPI half of examples/hono/server.ts: mounted at /py inside a Hono app."""
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

app = FastAPI(title="granian-ts: FastAPI inside Hono")


class Item(BaseModel):
    name: str
    price: float


@app.get("/")
async def root(request: Request):
    # url_for and root_path show the app knows where it is mounted.
    return {
        "hello": "from FastAPI",
        "root_path": request.scope["root_path"],
        "path": request.url.path,
        "items_url": str(request.url_for("read_item", item_id=1)),
        "client": request.client.host if request.client else None,
    }


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price": item.price}


@app.websocket("/ws")
async def echo(ws: WebSocket):
    await ws.accept()
    try:
        while True:
            await ws.send_text("echo: " + await ws.receive_text())
    except WebSocketDisconnect:
        pass

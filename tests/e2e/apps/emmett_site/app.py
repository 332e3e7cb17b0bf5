"""An Emmett app served through its RSGI entry (`granian-ts --interface rsgi app:app`)."""
from emmett import App, request, response, websocket
from emmett.tools import service

app = App(__name__)


@app.route("/")
async def index():
    response.headers["content-type"] = "text/plain"
    return "hello from emmett"


@app.route("/items/<int:item_id>")
@service.json
async def item(item_id):
    return {"id": item_id, "q": request.query_params.q, "host": request.host}


@app.route("/echo", methods=["post"])
@service.json
async def echo():
    data = await request.body_params
    return {"got": dict(data), "method": request.method}


@app.websocket("/ws")
async def ws_echo():
    await websocket.accept()
    while True:
        message = await websocket.receive()
        await websocket.send(f"echo: {message}")

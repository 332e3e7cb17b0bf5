"""The bundled example: `npm run example` serves it on http://127.0.0.1:8000."""
import asyncio
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield {"started": True, "hits": []}


app = FastAPI(title="granian-ts example", lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float


@app.get("/")
async def root():
    return {"hello": "world", "server": "granian-ts"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price": item.price, "taxed": round(item.price * 1.2, 2)}


@app.get("/stream")
async def stream(n: int = 5, delay: float = 0.1):
    async def gen():
        for i in range(n):
            yield f"chunk {i}\n"
            await asyncio.sleep(delay)

    return StreamingResponse(gen(), media_type="text/plain")


@app.post("/background")
async def background(request: Request, tasks: BackgroundTasks):
    hits = request.state.hits
    tasks.add_task(hits.append, "done")
    return {"queued": True}


@app.get("/background")
async def background_result(request: Request):
    return {"hits": request.state.hits, "started": request.state.started}

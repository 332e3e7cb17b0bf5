"""The FastAPI app of the benchmark (`run.py --interface fastapi`): one JSON endpoint with a
pydantic response model, the shape of a typical API route, so the numbers include what a
real framework spends per request next to what the server does.

GET  /      -> 200, a small JSON object (application/json)
POST /echo  -> 200, the request body
GET  /wait  -> 200, 1 KiB of b"x" after waiting 1 ms, as for a query or an HTTP call
"""

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    id: int
    name: str
    tags: list[str]
    price: float


ITEM = Item(id=1, name="widget", tags=["a", "b", "c"], price=9.99)


@app.get("/", response_model=Item)
async def get_item() -> Item:
    return ITEM


@app.get("/wait")
async def wait() -> Response:
    await asyncio.sleep(0.001)
    return Response(b"x" * 1024, media_type="text/plain")


@app.post("/echo")
async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")

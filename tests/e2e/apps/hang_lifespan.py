"""An app whose lifespan startup never completes."""
import asyncio


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await asyncio.sleep(3600)

"""What a request's coroutine runs as (--task-impl): its task, its context, cancellation."""
import asyncio
import contextvars
import os

REQUEST_ID = contextvars.ContextVar("REQUEST_ID", default="unset")


def _started():
    """The request reached the app: what the test waits on before it stops the server."""
    open(os.environ["TASKS_MARKER"] + ".started", "w").close()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    query = scope["query_string"].decode()
    if path == "/current":
        body = type(asyncio.current_task()).__name__
    elif path == "/ctx":
        before = REQUEST_ID.get()
        REQUEST_ID.set(query)
        await asyncio.sleep(0.05)  # concurrent requests interleave here
        body = f"{before} {REQUEST_ID.get()}"
    elif path == "/timeout":
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)
            body = "not timed out"
        except TimeoutError:
            body = "timed out"
    elif path == "/sleep":
        _started()
        await asyncio.sleep(float(query))
        body = "slept"
    elif path == "/hang":
        # Outlives the shutdown timeout: the worker cancels it at exit, and it says so.
        _started()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            with open(os.environ["TASKS_MARKER"], "w") as f:
                f.write("cancelled")
            raise
        body = "woke"
    else:
        body = "?"
    data = body.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})

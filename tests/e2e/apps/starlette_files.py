"""Starlette's FileResponse and StaticFiles, which use pathsend when the server offers it."""
import os

from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

DIRECTORY = os.environ["STARLETTE_FILES_DIR"]


async def download(request):
    return FileResponse(os.path.join(DIRECTORY, request.path_params["name"]), filename="report.bin")


app = Starlette(routes=[
    Route("/download/{name}", download),
    Mount("/static", StaticFiles(directory=DIRECTORY)),
])

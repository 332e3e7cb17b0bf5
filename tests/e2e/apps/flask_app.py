"""A Flask app served by granian-ts --interface wsgi in tests/e2e/test_wsgi_flask.py."""
import hashlib
import os
import tempfile
import time

from flask import Flask, Response, abort, jsonify, request, send_file, stream_with_context

app = Flask(__name__)
ITEMS = []
FILE = os.path.join(os.environ.get("FLASK_APP_DATA") or tempfile.gettempdir(), "served.bin")


@app.get("/api/items")
def list_items():
    return jsonify(items=ITEMS, count=len(ITEMS))


@app.post("/api/items")
def add_item():
    data = request.get_json()
    if not isinstance(data, dict) or "name" not in data:
        return jsonify(error="name is required"), 400
    ITEMS.append({"name": data["name"], "tags": data.get("tags", [])})
    return jsonify(ITEMS[-1]), 201


@app.post("/upload")
def upload():
    files = []
    for field, f in request.files.items(multi=True):
        digest = hashlib.sha256()
        size = 0
        while True:
            block = f.stream.read(65536)
            if not block:
                break
            size += len(block)
            digest.update(block)
        files.append({"field": field, "filename": f.filename, "size": size, "sha256": digest.hexdigest()})
    return jsonify(files=files, form=request.form.to_dict())


@app.get("/stream")
def stream():
    n, delay = request.args.get("n", 3, type=int), request.args.get("delay", 0.3, type=float)
    who = request.args.get("who", "world")

    @stream_with_context
    def generate():
        for i in range(n):
            # the request context is still there while streaming
            yield f"{i}: hello {request.args.get('who', who)}\n"
            time.sleep(delay)

    return Response(generate(), mimetype="text/plain")


@app.get("/file")
def file():
    if not os.path.exists(FILE):
        with open(FILE, "wb") as f:
            f.write(bytes(range(256)) * 4096 * 2)  # 2 MiB
    return send_file(FILE, mimetype="application/octet-stream", conditional=True, etag=True)


@app.get("/missing")
def missing():
    abort(404)


@app.get("/boom")
def boom():
    raise RuntimeError("flask view failed")


@app.errorhandler(418)
def teapot(error):
    return jsonify(error="teapot"), 418


@app.get("/teapot")
def make_tea():
    abort(418)

"""The bundled FastAPI example (a real framework from PyPI) behind a real granian-ts."""
import subprocess
import time

import httpx


def test_json(fastapi_server):
    r = httpx.get(fastapi_server.url + "/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"hello": "world", "server": "granian-ts"}


def test_path_and_query_params(fastapi_server):
    r = httpx.get(fastapi_server.url + "/items/42", params={"q": "caf\u00e9 & more"})
    assert r.json() == {"item_id": 42, "q": "caf\u00e9 & more"}


def test_post_body_and_validation_error(fastapi_server):
    r = httpx.post(fastapi_server.url + "/items", json={"name": "pen", "price": 2.5})
    assert r.status_code == 200
    assert r.json() == {"name": "pen", "price": 2.5, "taxed": 3.0}
    bad = httpx.post(fastapi_server.url + "/items", json={"name": "pen"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "price"]
    not_int = httpx.get(fastapi_server.url + "/items/abc")
    assert not_int.status_code == 422


def test_streaming_response_arrives_in_chunks(fastapi_server):
    arrivals = []
    t0 = time.monotonic()
    with httpx.stream("GET", fastapi_server.url + "/stream", params={"n": 4, "delay": 0.3}) as r:
        assert r.headers.get("transfer-encoding") == "chunked"
        for chunk in r.iter_raw():
            arrivals.append((time.monotonic() - t0, chunk))
    body = b"".join(c for _, c in arrivals)
    assert body == b"".join(f"chunk {i}\n".encode() for i in range(4))
    # The first chunk reaches the client long before the last one is produced (0.9 s of the
    # app's sleeps apart; a gap, so that a busy box's start-up latency does not count).
    assert arrivals[-1][0] - arrivals[0][0] > 0.65


def test_background_task_and_lifespan_state(fastapi_server):
    r = httpx.post(fastapi_server.url + "/background")
    assert r.json() == {"queued": True}
    r = httpx.get(fastapi_server.url + "/background")
    assert r.json()["started"] is True
    assert "done" in r.json()["hits"]


def test_openapi_and_docs_page(fastapi_server):
    assert httpx.get(fastapi_server.url + "/openapi.json").json()["info"]["title"] == "granian-ts example"
    docs = httpx.get(fastapi_server.url + "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_curl(fastapi_server):
    out = subprocess.run(["curl", "-sS", "-i", fastapi_server.url + "/items/7?q=x"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("HTTP/1.1 200")
    assert out.stdout.rstrip().endswith('{"item_id":7,"q":"x"}')


def test_not_found(fastapi_server):
    r = httpx.get(fastapi_server.url + "/nope")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}

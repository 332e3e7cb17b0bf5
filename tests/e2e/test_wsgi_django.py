"""Django (a real WSGI framework from PyPI) on granian-ts --interface wsgi: a small project
(tests/e2e/apps/djproject) with a SQLite database migrated in the setup."""
import asyncio
import hashlib
import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from _server import APPS, Server

PASSWORD = "granian-ts-admin-pw"


@pytest.fixture(scope="module")
def django_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("djproject")
    env = {
        "DJPROJECT_DATA": str(data),
        "DJANGO_SETTINGS_MODULE": "djproject.settings",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(APPS), os.environ.get("PYTHONPATH")])),
    }
    run_env = {**os.environ, **env}
    for argv in (["migrate", "--noinput"], ["createsuperuser", "--noinput", "--username", "admin", "--email", "a@example.org"]):
        subprocess.run([sys.executable, "-m", "django", *argv], cwd=APPS, env=run_env, check=True, capture_output=True)
    assert (data / "db.sqlite3").exists()
    s = Server("djproject.wsgi:application", interface="wsgi", args=["--blocking-threads", "4"], env=env).start()
    s.data = data
    yield s
    s.stop()


def csrf_token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_form_post_with_csrf_saves_a_model(django_server):
    with httpx.Client(base_url=django_server.url) as c:
        page = c.get("/notes/new/")
        assert page.status_code == 200
        assert "csrftoken" in c.cookies
        token = csrf_token(page.text)
        r = c.post("/notes/new/", data={"csrfmiddlewaretoken": token, "title": "caf\u00e9 note", "body": "hello"})
        assert r.status_code == 302 and r.headers["location"] == "/notes/"
        notes = c.get("/notes/").json()["notes"]
        assert {"title": "caf\u00e9 note", "body": "hello"} in notes
        # invalid form: re-rendered with errors
        assert c.post("/notes/new/", data={"csrfmiddlewaretoken": token, "title": ""}).status_code == 400


def test_post_without_csrf_token_is_forbidden(django_server):
    r = httpx.post(django_server.url + "/notes/new/", data={"title": "x"})
    assert r.status_code == 403
    assert "CSRF" in r.text


def test_admin_login_page_and_login(django_server):
    with httpx.Client(base_url=django_server.url) as c:
        page = c.get("/admin/login/?next=/admin/")
        assert page.status_code == 200
        assert "Django administration" in page.text or "Log in" in page.text
        r = c.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": csrf_token(page.text), "username": "admin", "password": PASSWORD, "next": "/admin/"},
        )
        assert r.status_code == 302 and r.headers["location"] == "/admin/"
        assert "sessionid" in c.cookies
        index = c.get("/admin/")
        assert index.status_code == 200 and "Notes" in index.text


def test_file_upload_is_streamed_to_disk(django_server):
    data = os.urandom(3 * 1024 * 1024 + 17)  # over Django's 2.5 MiB in-memory limit
    r = httpx.post(django_server.url + "/upload/", files={"upload": ("report.bin", data, "application/octet-stream")}, timeout=30)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got == {
        "name": "report.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "on_disk": True, "stored": True,
    }


def test_streaming_http_response(django_server):
    t0 = time.monotonic()
    arrivals = []
    text = b""
    with httpx.stream("GET", django_server.url + "/stream/?n=3&delay=0.4") as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            arrivals.append(time.monotonic() - t0)
            text += chunk
    assert text == b"line 0\nline 1\nline 2\n"
    # 0.8 s of the app's sleeps apart: streamed, not buffered (a gap, not start-up latency).
    assert arrivals[-1] - arrivals[0] > 0.6


def test_file_response(django_server):
    expected = bytes(range(256)) * 4096 * 3
    r = httpx.get(django_server.url + "/file/")
    assert r.status_code == 200
    assert r.content == expected
    assert r.headers["content-disposition"] == 'attachment; filename="served.bin"'
    assert r.headers.get("content-length", str(len(expected))) == str(len(expected))  # see test_wsgi_flask


def test_request_info_and_errors(django_server):
    r = httpx.get(django_server.url + "/request-info/?a=1&b=caf%C3%A9", cookies={"k": "v"})
    info = r.json()
    assert info["path"] == "/request-info/"
    assert info["query"] == {"a": "1", "b": "caf\u00e9"}
    assert info["host"] == f"127.0.0.1:{django_server.port}"
    assert info["absolute"] == f"http://127.0.0.1:{django_server.port}/request-info/?a=1&b=caf%C3%A9"
    assert info["cookies"] == {"k": "v"}
    assert info["remote_addr"] == "127.0.0.1"
    assert httpx.get(django_server.url + "/nope/").status_code == 404
    assert httpx.get(django_server.url + "/boom/").status_code == 500
    assert django_server.wait_for_log("django view failed")
    assert httpx.get(django_server.url + "/notes/").status_code == 200


def test_concurrent_requests_on_sqlite_from_several_threads(django_server):
    async def main():
        async with httpx.AsyncClient(base_url=django_server.url, timeout=30) as c:
            return await asyncio.gather(*[c.get("/notes/") for _ in range(40)])

    assert all(r.status_code == 200 for r in asyncio.run(main()))

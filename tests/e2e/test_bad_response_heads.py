"""An app's bad response head costs exactly that one request (issue 9, item 0): whichever side
refuses it (the worker's checks: 500; Bun building the Response: 502), the worker connection
stays up and every other request, before and after, is served."""
import concurrent.futures

import httpx
import pytest

BAD = ["/bad-name", "/bad-colon", "/bad-empty", "/bad-value", "/bad-status"]  # apps/bad_heads.py

INTERFACES = {"asgi": "bad_heads:asgi_app", "wsgi": "bad_heads:wsgi_app", "rsgi": "bad_heads:rsgi_app"}


@pytest.mark.parametrize("interface", list(INTERFACES))
def test_a_bad_head_costs_one_request(make_server, interface):
    s = make_server(INTERFACES[interface], interface=interface, args=["--workers", "2"])
    with httpx.Client(base_url=s.url, timeout=10) as c:
        assert c.get("/").text == "ok"
        for path in BAD:
            r = c.get(path)
            assert r.status_code in (500, 502), (path, r.status_code)
            assert r.text != "ok"
        # Every worker connection is still there: 40 requests over fresh connections all succeed.
        def one(_):
            with httpx.Client(base_url=s.url, timeout=10) as fresh:
                return fresh.get("/").status_code
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(one, range(40))) == [200] * 40
    assert s.wait_for_log("bad name")  # the log names what was wrong

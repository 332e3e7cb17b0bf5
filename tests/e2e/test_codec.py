"""--speedups (default on): the workers frame requests and responses with the C codec built with
the package (scripts/build-speedups.sh); --no-speedups, or GRANIAN_TS_SPEEDUPS=false, with the
pure-Python one. Apps see the same request and clients the same response either way."""
import httpx
import pytest

REQUEST = {
    "path": "/caf%C3%A9/x",
    "params": {"q": "1", "r": "two words"},
    # A latin-1 value (obs-text) and a header repeated: the cases off the C codec's common path.
    "headers": [("x-one", "1"), ("x-latin", "\xe9t\xe9".encode("latin-1")), ("x-rep", "a"), ("x-rep", "b")],
}


def fetch(s, interface):
    with httpx.Client(http1=True) as c:
        r = c.get(s.url + REQUEST["path"], params=REQUEST["params"], headers=REQUEST["headers"])
        many = [c.get(s.url + f"/n/{i}", headers={"x-i": str(i)}).json()["path"] for i in range(50)]
    assert r.status_code == 200
    assert many == [f"/n/{i}" for i in range(50)]
    seen = r.json()
    # Each server has its own port.
    seen["headers"] = [h for h in seen["headers"] if h[0] != "host"]
    return seen.pop("codec"), seen, dict(r.headers.raw)


@pytest.mark.parametrize("interface,target", [("asgi", "codec_app:asgi_app"), ("rsgi", "codec_app:rsgi_app")])
def test_both_codecs_serve_the_same(make_server, interface, target):
    results = {}
    for how in ({}, {"args": ["--no-speedups"]}, {"env": {"GRANIAN_TS_SPEEDUPS": "false"}}):
        s = make_server(target, interface=interface, **how)
        codec, seen, headers = fetch(s, interface)
        results.setdefault(codec, []).append(seen)
        if interface == "asgi":
            assert headers[b"x-latin"] == b"\xe9t\xe9"
        else:
            assert headers[b"x-text"] == "\u20ac".encode("utf-8")
        s.stop()
    assert sorted((codec, len(runs)) for codec, runs in results.items()) == [("C", 1), ("pure", 2)]
    assert results["C"][0] == results["pure"][0] == results["pure"][1]

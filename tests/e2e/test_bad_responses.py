"""An app's bad response values cost exactly one request, on every interface (issue 9, item 0).

The Python side checks what the app controls (status, header names and values, body types)
before anything is framed: a bad value gets that request a 500 and a log line naming it, and
the worker's connection to Bun, the worker and every other request go on. The fuzz half drives
a real worker with random (seeded, reproducible: GRANIAN_TS_FUZZ_SEED) good and bad responses.
"""
import base64
import json
import os
import random
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
from bad_responses import body_bytes  # noqa: E402

from _server import Server  # noqa: E402

INTERFACES = ["asgi", "rsgi", "wsgi"]
ERROR_BODY = b"Internal server error"
# A log line's prefix names its process: "[granian_ts.interfaces.asgi:1234] ERROR ...".
LOG_PID = re.compile(r"\[granian_ts[\w.]*:(\d+)\]")


def spec_url(url, status, headers, body="bytes", length=2, seed=0, chunks=1, tail=False):
    def wire(item):
        return {"hex": item.hex()} if isinstance(item, bytes) else item

    spec = {"status": status, "headers": [[wire(n), wire(v)] for n, v in headers], "body": body,
            "length": length, "seed": seed, "chunks": chunks, "tail": tail}
    return url + "/spec?" + base64.urlsafe_b64encode(json.dumps(spec).encode()).decode()


def fresh_get(url):
    """A GET on a connection of its own: the kernel spreads new connections over the workers."""
    with httpx.Client(timeout=10) as client:
        return client.get(url, headers={"connection": "close"})


def pids_in_log(server, text):
    return {int(m.group(1)) for line in server.log.splitlines() if text in line for m in [LOG_PID.search(line)] if m}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("interface", INTERFACES)
def test_a_bad_header_name_costs_one_request_and_the_workers_serve_on(interface, workers):
    server = Server(f"bad_responses:{interface}", interface=interface, args=["--workers", str(workers)]).start()
    try:
        bad_names = [b"bad name", b"bad:name", b""]
        # Until every worker refused one (new connections land on either worker), bounded.
        for attempt in range(200):
            name = bad_names[attempt % len(bad_names)]
            r = fresh_get(spec_url(server.url, 200, [(b"x-good", b"1"), (name, b"v")]))
            assert (r.status_code, r.content) == (500, ERROR_BODY), server.log
            if attempt >= 2 and len(pids_in_log(server, "Exception in")) == workers:
                break
        refused = pids_in_log(server, "Exception in")
        assert len(refused) == workers, server.log
        # The log names the culprit (bytes for ASGI, text for the others).
        for name in bad_names:
            shown = repr(name) if interface == "asgi" else repr(name.decode())
            assert server.wait_for_log(f"response header name {shown}: not an HTTP token"), server.log

        # The next 40 requests, 8 at a time on their own connections, all 200, from the same workers.
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: fresh_get(server.url + "/"), range(40)))
        assert [r.status_code for r in responses] == [200] * 40, server.log
        served = {int(r.text) for r in responses}
        assert served <= refused and len(served) == workers
        assert "502" not in server.log and "closing the connection to Bun" not in server.log
    finally:
        server.stop()


# -------------------------------------------------------------------------------------------
# Fuzz: random app responses

GOOD_STATUSES = [200, 201, 202, 203, 206, 299, 400, 404, 418, 451, 500, 503, 599]
BAD_STATUSES = [True, False, 0, 99, 100, 101, 103, 199, 600, 999, 1000, -1, "200", "200 OK", "20", 200.5, None, [200]]
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
NOT_TOKEN_CHARS = ' :@()<>,;"/[]?={}\t\x00\r\n\x7f\xe9\x01'
GOOD_NAMES = ["x-a", "X-Custom", "etag", "cache-control", "set-cookie", "vary", "x-request-id", "link", "ETag"]
VALUE_CHARS = [chr(c) for c in range(0x20, 0x7F)] + ["\t", "\xe9", "\xff", "\x80"]
BAD_VALUE_CHARS = ["\x00", "\r", "\n", "\x01", "\x0b", "\x1f", "\x7f"]
BODY_KINDS = ["bytes", "bytes", "bytes", "bytearray", "memoryview", "str", "int", "none", "list"]


def random_name(rng):
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(GOOD_NAMES).encode()
    if roll < 0.85:
        return ("x-" + "".join(rng.choice(TOKEN_CHARS) for _ in range(rng.randint(1, 12)))).encode()
    if roll < 0.92:
        return b""
    chars = [rng.choice(TOKEN_CHARS) for _ in range(rng.randint(0, 6))]
    chars.insert(rng.randint(0, len(chars)), rng.choice(NOT_TOKEN_CHARS))
    return ("x-" + "".join(chars)).encode("latin-1")


def random_value(rng):
    chars = [rng.choice(VALUE_CHARS) for _ in range(rng.randint(0, 24))]
    if rng.random() < 0.12:
        chars.insert(rng.randint(0, len(chars)), rng.choice(BAD_VALUE_CHARS))
    return "".join(chars).encode("latin-1")


def is_token(name):
    return bool(name) and all(chr(c) in TOKEN_CHARS for c in name)


def status_ok(interface, status):
    if type(status) is int:
        return 200 <= status <= 599
    # A WSGI status is a line: a str of a supported code passes as it is.
    return interface == "wsgi" and type(status) is str and status[:3].isdigit() and 200 <= int(status[:3]) <= 599 \
        and (len(status) == 3 or status[3] == " ")


def body_ok(interface, kind):
    if kind in ("bytes", "bytearray", "memoryview"):
        return True
    return kind == "str" and interface == "rsgi"  # response_str / send_str


def random_spec(rng):
    status = rng.choice(GOOD_STATUSES) if rng.random() < 0.75 else rng.choice(BAD_STATUSES)
    names, headers = set(), []
    for _ in range(rng.randint(0, 6)):
        name = random_name(rng)
        if name.lower() in names:
            continue  # one value per name, so the response can be compared header by header
        names.add(name.lower())
        headers.append((name, random_value(rng)))
    kind = rng.choice(BODY_KINDS) if rng.random() < 0.3 else "bytes"
    length = rng.choice([0, 1, 10, 1000, 70_000]) if rng.random() < 0.9 else 1_500_000
    return status, headers, kind, length, rng.randrange(256), rng.choice([1, 1, 2, 3]), rng.random() < 0.1


def value_ok(value):
    # RFC 9110 §5.5: no control character but tab.
    return all(c == 9 or 0x20 <= c < 0x7F or c >= 0x80 for c in value)


def spec_ok(interface, spec):
    status, headers, kind, length, seed, chunks, tail = spec
    return status_ok(interface, status) and body_ok(interface, kind) and all(
        is_token(n) and value_ok(v) for n, v in headers
    )


def check_response(interface, spec, response):
    """500 for a spec with a bad value, else exactly the response the app gave."""
    status, headers, kind, length, seed, chunks, tail = spec
    valid = spec_ok(interface, spec)
    if not valid:
        assert (response.status_code, response.content) == (500, ERROR_BODY)
        return
    assert response.status_code == (status if type(status) is int else int(status[:3]))
    expected = body_bytes(length, seed)
    assert response.content == (expected.decode("latin-1").encode("utf-8") if kind == "str" else expected)
    raw = response.headers.raw
    for name, value in headers:
        # Bun trims a value's surrounding whitespace, as the Fetch spec asks.
        got = [v for n, v in raw if n.lower() == name.lower()]
        want = value.strip(b" \t")
        if interface == "rsgi":
            want = want.decode("latin-1").encode("utf-8")  # RSGI text goes out as UTF-8; WSGI's is latin-1
        assert got == [want], (name, got)


@pytest.mark.parametrize("interface", INTERFACES)
def test_random_app_responses_never_take_the_worker_down(interface):
    seed = int(os.environ.get("GRANIAN_TS_FUZZ_SEED", "9")) * 10 + INTERFACES.index(interface)
    rng = random.Random(seed)
    server = Server(f"bad_responses:{interface}", interface=interface).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            pid = client.get("/").text
            bad = aborted = 0
            for number in range(150):
                spec = random_spec(rng)
                url = spec_url("", *spec)
                if spec[-1] and spec_ok(interface, spec):
                    # A bad piece after the head went out: the response is cut (the client
                    # sees the connection end mid-body), or a 500 if nothing had left yet.
                    try:
                        response = client.get(url)
                    except (httpx.RemoteProtocolError, httpx.ReadError):
                        aborted += 1
                    else:
                        assert (response.status_code, response.content) == (500, ERROR_BODY), (number, spec)
                    continue
                response = client.get(url)
                client.cookies.clear()  # a random set-cookie must not ride along on the next request
                try:
                    check_response(interface, spec, response)
                except AssertionError as exc:
                    raise AssertionError(f"seed {seed}, response {number}: {spec!r:.400} → {response.status_code} "
                                         f"{response.headers.raw!r:.400} {response.content[:200]!r}\n{server.log[-3000:]}") from exc
                bad += response.status_code == 500 and response.content == ERROR_BODY
                if number % 10 == 9:
                    assert client.get("/").text == pid  # the same worker serves on
            # Enough of each kind to mean something.
            assert 20 <= bad <= 130 and aborted >= 3, (bad, aborted)
            assert [client.get("/").text for _ in range(20)] == [pid] * 20
        assert "closing the connection to Bun" not in server.log and "Bad Gateway" not in server.log
    finally:
        server.stop()

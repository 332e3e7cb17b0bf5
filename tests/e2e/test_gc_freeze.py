"""--gc-freeze (default on): each worker collects and freezes its heap once the app is loaded."""
import httpx
import pytest


@pytest.mark.parametrize("interface,target", [("asgi", "gc_apps:asgi_app"), ("wsgi", "gc_apps:wsgi_app")])
def test_the_loaded_app_is_frozen_by_default(make_server, interface, target):
    s = make_server(target, interface=interface)
    state = httpx.get(s.url + "/").json()
    # Modules, the worker and the app: thousands of objects, never rescanned under load.
    assert state["frozen"] > 1000, state
    assert state == {"frozen": state["frozen"], "startup_garbage_alive": False, "request_garbage_alive": False}


@pytest.mark.parametrize("how", [{"args": ["--no-gc-freeze"]}, {"env": {"GRANIAN_TS_GC_FREEZE": "false"}}], ids=["flag", "env"])
def test_no_gc_freeze_keeps_pythons_default(make_server, how):
    s = make_server("gc_apps:asgi_app", interface="asgi", **how)
    state = httpx.get(s.url + "/").json()
    assert state["frozen"] == 0, state
    assert state["request_garbage_alive"] is False

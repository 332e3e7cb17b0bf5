"""Shared setup: import the package from python/, and run `async def` tests on a fresh loop."""

import asyncio
import inspect
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for fakes.py


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    # No pytest-asyncio: the package is stdlib only, and asyncio.run is all these tests need.
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), timeout=10))
        return True
    return None


@pytest.fixture(scope="session")
def golden_frames():
    return json.loads((ROOT / "tests" / "golden" / "frames.json").read_text())["frames"]

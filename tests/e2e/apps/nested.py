"""A dotted attribute target: `nested:holder.inner.app`."""
import types

from raw_asgi import app as _app

holder = types.SimpleNamespace(inner=types.SimpleNamespace(app=_app))

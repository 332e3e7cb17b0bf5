"""`--target module:attr` loading and its error messages."""

import sys

import pytest

from granian_ts.importer import ImportFromStringError, import_from_string


@pytest.fixture
def app_module(tmp_path, monkeypatch):
    (tmp_path / "gts_target_mod.py").write_text(
        "class Holder:\n    inner = 'nested'\n\napp = 'the app'\nother = 'other'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "gts_target_mod"
    sys.modules.pop("gts_target_mod", None)


def test_attr_defaults_to_app(app_module):
    assert import_from_string(app_module) == "the app"
    assert import_from_string(f"{app_module}:other") == "other"


def test_dotted_attr(app_module):
    assert import_from_string(f"{app_module}:Holder.inner") == "nested"


def test_missing_module_message():
    with pytest.raises(ImportFromStringError) as info:
        import_from_string("gts_no_such_module:app")
    assert str(info.value) == (
        "could not import 'gts_no_such_module:app': ModuleNotFoundError: No module named 'gts_no_such_module'"
    )


def test_missing_attr_message(app_module):
    with pytest.raises(ImportFromStringError, match="attribute 'nope' not found in module 'gts_target_mod'"):
        import_from_string(f"{app_module}:nope")


def test_error_raised_by_the_module_is_reported(tmp_path, monkeypatch):
    (tmp_path / "gts_broken_mod.py").write_text("raise RuntimeError('bad config')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportFromStringError, match="RuntimeError: bad config"):
        import_from_string("gts_broken_mod:app")

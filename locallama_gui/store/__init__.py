"""Persistence: user paths, the settings file and the SQLite store.

The submodules are imported the first time one of their names is used, so the paths (wanted
early, for the log file and the window layout) do not load SQLite or the settings parser.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from locallama_gui.store.db import SCHEMA_VERSION, SnapshotInfo, Store, StoreError
    from locallama_gui.store.paths import (
        cache_dir,
        config_dir,
        data_dir,
        database_path,
        home_root,
        log_dir,
        settings_path,
    )
    from locallama_gui.store.settings_file import LoadedSettings, load_settings, save_settings

_LAZY = {
    **dict.fromkeys(("SCHEMA_VERSION", "SnapshotInfo", "Store", "StoreError"), "db"),
    **dict.fromkeys(
        (
            "cache_dir",
            "config_dir",
            "data_dir",
            "database_path",
            "home_root",
            "log_dir",
            "settings_path",
        ),
        "paths",
    ),
    **dict.fromkeys(("LoadedSettings", "load_settings", "save_settings"), "settings_file"),
}

__all__ = [
    "SCHEMA_VERSION",
    "LoadedSettings",
    "SnapshotInfo",
    "Store",
    "StoreError",
    "cache_dir",
    "config_dir",
    "data_dir",
    "database_path",
    "home_root",
    "load_settings",
    "log_dir",
    "save_settings",
    "settings_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Persistence: user paths, the settings file and the SQLite store."""

from __future__ import annotations

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

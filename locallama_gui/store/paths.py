"""Where the app keeps its files.

``LOCALLAMA_HOME`` (when set and non-empty) roots every directory, so tests and
portable installs never touch the real home; otherwise the platform's user
directories for the app are used. Directories are created when asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "locallama-router"
HOME_ENV = "LOCALLAMA_HOME"


def home_root() -> Path | None:
    """The ``LOCALLAMA_HOME`` override, or None when it is not set."""
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _dir(sub: str, platform_dir: str) -> Path:
    root = home_root()
    return _ensure(root / sub if root is not None else Path(platform_dir))


def config_dir() -> Path:
    return _dir("config", platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return _dir("data", platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return _dir("logs", platformdirs.user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return _dir("cache", platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def database_path() -> Path:
    return data_dir() / "locallama.db"

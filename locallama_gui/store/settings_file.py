"""Reading and writing the settings file (TOML) safely."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from locallama_gui.core.settings import (
    Settings,
    SettingsError,
    dumps_toml,
    loads_toml,
    settings_from_dict,
    settings_to_dict,
)
from locallama_gui.store.paths import settings_path

HEADER = (
    "# LocaLLama Router settings.\n"
    "# API keys are not kept here: they live in the system key store.\n\n"
)


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    settings: Settings
    path: Path
    #: Why the file could not be used (defaults were used instead), or None.
    error: str | None = None


def load_settings(path: Path | str | None = None) -> LoadedSettings:
    """Load settings; a missing file gives the defaults.

    An unreadable or invalid file also gives the defaults, plus an error that
    names the file and the offending key. The file itself is never changed.
    """
    target = Path(path) if path is not None else settings_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LoadedSettings(Settings(), target)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return LoadedSettings(Settings(), target, _message(target, f"cannot be read ({reason})"))
    try:
        settings = settings_from_dict(loads_toml(text))
    except SettingsError as exc:
        return LoadedSettings(Settings(), target, _message(target, f"is invalid: {exc}"))
    return LoadedSettings(settings, target)


def _message(path: Path, problem: str) -> str:
    return f"Settings file {path} {problem}. Using default settings; the file was left unchanged."


def save_settings(settings: Settings, path: Path | str | None = None) -> Path:
    """Write settings atomically: temp file in the same folder, fsync, rename."""
    target = Path(path) if path is not None else settings_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER + dumps_toml(settings_to_dict(settings))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)
    return target


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows it (not on Windows)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)

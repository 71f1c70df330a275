"""Read the app's data files (``resources/``) the same way from a checkout, a wheel or a
frozen bundle.

``resources/`` installs as the package ``locallama_gui.resources``; PyInstaller bundles it as
data under the same package path. Everything that needs a resource comes through here.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

PACKAGE = "locallama_gui.resources"


class MissingResource(FileNotFoundError):
    """A resource the app ships is not where it should be (a broken install)."""


def resource_path(name: str) -> Path:
    """A real filesystem path to a resource (Qt APIs such as QIcon want one)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidate = Path(frozen_root) / "locallama_gui" / "resources" / name
        if candidate.exists():
            return candidate
    try:
        ref = resources.files(PACKAGE).joinpath(name)
    except ModuleNotFoundError as e:
        raise MissingResource(f"the app's resources are not installed ({e})") from None
    path = Path(str(ref))
    if not path.exists():
        raise MissingResource(f"resource {name!r} is missing from this install ({path})")
    return path


def read_bytes(name: str) -> bytes:
    return resource_path(name).read_bytes()


def read_text(name: str) -> str:
    return resource_path(name).read_text(encoding="utf-8")

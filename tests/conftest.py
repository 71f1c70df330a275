"""Test isolation: offscreen Qt, a private LOCALLAMA_HOME, no real keyring or network."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import keyring
import pytest

from tests.secrets.memory_keyring import MemoryKeyring

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

#: ``shared/`` lies beside the checkout (locally and in CI).
SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own LOCALLAMA_HOME and no inherited API key."""
    home = tmp_path / "locallama-home"
    home.mkdir()
    monkeypatch.setenv("LOCALLAMA_HOME", str(home))
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    return home


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    """Every test starts with no live key registered for redaction (the registry is
    process-wide: a key one test read must not mask text in the next)."""
    from locallama_gui.core.redaction import clear_registered_secrets

    clear_registered_secrets()
    yield
    clear_registered_secrets()


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"shared data not found at {DATA}")
    return DATA


#: Set to 1 to let tests/secrets/test_secret_service.py use the real Secret Service.
REAL_KEYRING = os.environ.get("LOCALLAMA_SECRET_SERVICE_TEST") == "1"


@pytest.fixture(autouse=True)
def memory_keyring():
    """An in-memory keyring for every test (the real one only for the Secret Service test)."""
    if REAL_KEYRING:
        return None
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


class _WarningRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_unexpected_warning_logs(request):
    """A test that logs a warning it did not declare fails (DESIGN.md, Conventions).

    Tests that provoke one on purpose (a corrupt database, an unhandled exception) say so
    with ``@pytest.mark.expected_warning_logs``.
    """
    handler = _WarningRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("expected_warning_logs") is None:
        lines = "\n".join(
            f"  {r.levelname} {r.name}: {r.getMessage()[:200]}" for r in handler.records[:5]
        )
        pytest.fail(f"unexpected warning logged:\n{lines}", pytrace=False)

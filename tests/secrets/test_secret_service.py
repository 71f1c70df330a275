"""The key store against a real Secret Service (gnome-keyring under dbus-run-session).

Skipped unless ``LOCALLAMA_SECRET_SERVICE_TEST=1``; ``.ci/run`` sets it inside a private D-Bus
session with an unlocked, throw-away gnome-keyring. It refuses to run when a key is already
stored, so it can never overwrite a developer's real one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from locallama_gui.secrets import SERVICE, USERNAME, KeyStore, classify_backend

pytestmark = pytest.mark.skipif(
    os.environ.get("LOCALLAMA_SECRET_SERVICE_TEST") != "1",
    reason="needs a real Secret Service: set LOCALLAMA_SECRET_SERVICE_TEST=1 (see .ci/run)",
)

ROOT = Path(__file__).resolve().parents[2]

#: A fresh process that reads the key back and says whether it matches, without printing it.
MATCHES = """
import hashlib, os, sys
from locallama_gui.secrets import KeyStore
key = KeyStore().get_sync()
digest = hashlib.sha256(key.encode()).hexdigest() if key else None
print("match" if digest == os.environ["EXPECTED_SHA256"] else "no match")
"""

#: A fresh process running ``locallama key ...``.
CLI = "import sys; from locallama_gui.cli.key_commands import main; sys.exit(main(sys.argv[1:]))"


def fresh(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_key_round_trips_through_the_real_secret_service():
    backend = classify_backend(keyring.get_keyring())
    assert backend.is_system, f"no Secret Service: the keyring backend is {backend.name}"
    assert backend.display == "Secret Service"
    if keyring.get_password(SERVICE, USERNAME) is not None:
        pytest.fail("a key is already stored in this keyring; refusing to overwrite it")

    key = "sk-or-v1-" + secrets.token_hex(32)
    expected = {"EXPECTED_SHA256": hashlib.sha256(key.encode()).hexdigest()}
    try:
        location = asyncio.run(KeyStore().set(key))
        assert (location.where, location.is_system) == ("keyring", True)
        assert location.label == "Stored in the system keyring (Secret Service)"

        status_out = fresh(CLI, "key", "status", "--json")
        assert key not in status_out
        assert json.loads(status_out) == {
            "present": True,
            "where": "keyring",
            "backend": "keyring.backends.SecretService.Keyring",
            "is_system": True,
        }
        assert fresh(MATCHES, env=expected).strip() == "match"

        assert "deleted" in fresh(CLI, "key", "delete")
    finally:
        if keyring.get_password(SERVICE, USERNAME) == key:
            keyring.delete_password(SERVICE, USERNAME)

    assert keyring.get_password(SERVICE, USERNAME) is None
    assert json.loads(fresh(CLI, "key", "status", "--json"))["present"] is False
    assert fresh(MATCHES, env=expected).strip() == "no match"

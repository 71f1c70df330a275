"""Keyring backends that misbehave on purpose: hang, fail, store in plaintext."""

from __future__ import annotations

import threading

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked

from tests.secrets.memory_keyring import MemoryKeyring


class HangingKeyring(KeyringBackend):
    """Every call blocks (like a locked Secret Service waiting for a prompt) until released."""

    priority = 1
    is_system = True

    def __init__(self, hang_s: float = 30.0) -> None:
        super().__init__()
        self.hang_s = hang_s
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def _hang(self) -> None:
        self.calls += 1
        self.entered.set()
        self.release.wait(self.hang_s)

    def get_password(self, service: str, username: str) -> str | None:
        self._hang()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self._hang()

    def delete_password(self, service: str, username: str) -> None:
        self._hang()


class LeakyKeyring(MemoryKeyring):
    """Raises errors whose text repeats the password, as a careless backend might."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"D-Bus said no while storing {password!r} for {service}")


class LockedKeyring(MemoryKeyring):
    """A Secret Service whose unlock prompt was dismissed."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


def plaintext_keyring() -> MemoryKeyring:
    """A backend that looks like keyrings.alt's unencrypted file store."""

    class PlaintextKeyring(MemoryKeyring):
        is_system = None  # type: ignore[assignment]  # let the store judge it by name

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    return PlaintextKeyring()


def secret_service_lookalike() -> MemoryKeyring:
    class Keyring(MemoryKeyring):
        is_system = None  # type: ignore[assignment]

    Keyring.__module__ = "keyring.backends.SecretService"
    return Keyring()

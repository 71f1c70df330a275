"""The key store: where the key comes from, the fallbacks, timeouts, and that it never leaks."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from keyring.backends import fail, null

from locallama_gui.secrets import (
    ENV_VAR,
    SERVICE,
    USERNAME,
    InsecureKeyring,
    InvalidKey,
    KeyFromEnvironment,
    KeyringFailure,
    KeyStore,
    KeyStoreTimeout,
    NoSystemKeyring,
    classify_backend,
    redact,
    validate_key,
)
from tests.secrets.fakes import (
    HangingKeyring,
    LeakyKeyring,
    LockedKeyring,
    plaintext_keyring,
    secret_service_lookalike,
)
from tests.secrets.memory_keyring import MemoryKeyring

KEY = "sk-or-v1-" + "0123456789abcdef" * 4
OTHER_KEY = "sk-or-v1-" + "fedcba9876543210" * 4


# --- validation ------------------------------------------------------------------------------


def test_a_well_formed_key_is_accepted_and_trimmed():
    assert validate_key(f"  {KEY}\n") == KEY


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("sk-proj-" + "a" * 40, "start with sk-or-"),
        ("sk-or-v1-abc def" + "a" * 20, "spaces"),
        ("sk-or-v1-abc", "characters long"),
        ("sk-or-v1-" + "a" * 600, "characters long"),
        ("sk-or-v1-" + "é" * 30, "characters a key never has"),
    ],
)
def test_a_malformed_key_gets_a_clear_error_without_echoing_it(text, reason):
    with pytest.raises(InvalidKey) as info:
        validate_key(text)
    assert reason in str(info.value)
    if text.strip():
        assert text.strip() not in str(info.value)
        assert text.strip() not in repr(info.value)


@given(st.text(min_size=4, max_size=80))
def test_invalid_key_messages_never_contain_the_input(junk):
    text = "sk-or-" + junk
    try:
        validate_key(text)
    except InvalidKey as e:
        assert text.strip() not in str(e)
        assert text.strip() not in repr(e)


def test_redact_masks_given_secrets_and_any_openrouter_key():
    out = redact(f"token={KEY} other=hunter22", ["hunter22"])
    assert KEY not in out and "hunter22" not in out
    assert out.count("[REDACTED]") == 2


# --- backends --------------------------------------------------------------------------------


def test_backends_are_classified():
    assert classify_backend(fail.Keyring()).kind == "none"
    assert classify_backend(null.Keyring()).kind == "none"
    real = classify_backend(secret_service_lookalike())
    assert real.is_system and real.display == "Secret Service"
    plain = classify_backend(plaintext_keyring())
    assert plain.kind == "insecure" and not plain.is_system
    assert classify_backend(MemoryKeyring()).is_system  # declares itself


# --- environment -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_environment_wins_and_is_read_only(memory_keyring):
    memory_keyring.set_password(SERVICE, USERNAME, OTHER_KEY)
    store = KeyStore(environ={ENV_VAR: f" {KEY} "})
    assert await store.get() == KEY
    status = await store.status()
    assert (status.present, status.where) == (True, "env")
    assert "OPENROUTER_API_KEY environment variable (read-only)" in status.label
    with pytest.raises(KeyFromEnvironment, match="OPENROUTER_API_KEY"):
        await store.set(OTHER_KEY)
    with pytest.raises(KeyFromEnvironment):
        await store.set(OTHER_KEY, session_only=True)
    with pytest.raises(KeyFromEnvironment):
        await store.delete()
    assert memory_keyring.get_password(SERVICE, USERNAME) == OTHER_KEY


def test_the_process_environment_is_read(monkeypatch):
    monkeypatch.setenv(ENV_VAR, KEY)
    assert KeyStore().get_sync() == KEY
    monkeypatch.setenv(ENV_VAR, "  ")
    assert KeyStore().get_sync() is None


# --- the keyring -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_set_get_delete_through_the_keyring(memory_keyring):
    store = KeyStore()
    assert await store.get() is None
    assert (await store.status()).to_json() == {
        "present": False,
        "where": None,
        "backend": "tests.secrets.memory_keyring.MemoryKeyring",
        "is_system": True,
    }
    location = await store.set(KEY + "\n")
    assert memory_keyring.passwords == {(SERVICE, USERNAME): KEY}
    assert (location.where, location.is_system) == ("keyring", True)
    assert location.label == "Stored in the system keyring (memory)"
    assert await KeyStore().get() == KEY  # another store (a fresh app) reads it back
    assert (await store.status()).where == "keyring"
    assert await store.delete() is True
    assert memory_keyring.passwords == {}
    assert await store.get() is None
    assert await store.delete() is False


def test_the_sync_twins_do_the_same(memory_keyring):
    store = KeyStore()
    store.set_sync(KEY)
    assert store.get_sync() == KEY
    assert store.status_sync().where == "keyring"
    assert store.delete_sync() is True
    assert store.get_sync() is None
    assert store.status_sync().present is False


# --- no system keyring -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_no_system_keyring_says_so_and_offers_a_session_key(monkeypatch):
    import keyring

    keyring.set_keyring(fail.Keyring())
    store = KeyStore()
    with pytest.raises(NoSystemKeyring) as info:
        await store.set(KEY)
    message = str(info.value)
    assert "No system keyring" in message
    assert "session only" in message and ENV_VAR in message
    assert await store.get() is None
    status = await store.status()
    assert (status.present, status.backend, status.is_system) == (
        False,
        "keyring.backends.fail.Keyring",
        False,
    )

    location = await store.set(KEY, session_only=True)
    assert location.where == "session"
    assert location.label == "Session only: forgotten when the app quits"
    assert await store.get() == KEY
    assert (await store.status()).where == "session"
    assert await KeyStore().get() is None  # not kept anywhere a new process could read
    assert await store.delete() is True
    assert await store.get() is None


def test_a_plaintext_backend_is_refused_unless_allowed():
    backend = plaintext_keyring()
    store = KeyStore(backend=backend)
    with pytest.raises(InsecureKeyring, match="unencrypted"):
        store.set_sync(KEY)
    assert backend.passwords == {}
    location = store.set_sync(KEY, allow_insecure=True)
    assert backend.passwords == {(SERVICE, USERNAME): KEY}
    assert (location.where, location.is_system) == ("keyring", False)
    assert "unencrypted" in location.label


def test_a_locked_keyring_is_reported_and_the_session_key_still_works():
    store = KeyStore(backend=LockedKeyring())
    with pytest.raises(KeyringFailure, match="locked"):
        store.set_sync(KEY)
    with pytest.raises(KeyringFailure):
        store.get_sync()
    status = store.status_sync()
    assert status.present is False and "locked" in (status.problem or "")
    store.set_sync(KEY, session_only=True)
    assert store.get_sync() == KEY
    assert store.status_sync().where == "session"


# --- a keyring that never answers -------------------------------------------------------------


@pytest.fixture
def hanging():
    backend = HangingKeyring(hang_s=30.0)
    yield backend
    backend.release.set()


@pytest.mark.asyncio
async def test_a_hanging_keyring_times_out_without_blocking_the_loop(hanging):
    store = KeyStore(backend=hanging, timeout_s=0.3)
    order: list[str] = []

    async def other_work() -> None:
        while not hanging.entered.is_set():  # the keyring call is blocked right now...
            await asyncio.sleep(0.01)
        order.append("other work ran")  # ...and the loop still runs this

    async def read() -> None:
        with pytest.raises(KeyStoreTimeout) as info:
            await store.get()
        order.append("timed out")
        assert "did not answer in 0.3 s; it may be locked" in str(info.value)
        assert "session-only key" in str(info.value)

    started = time.monotonic()
    await asyncio.gather(read(), other_work())
    assert time.monotonic() - started < 10  # far less than the 30 s the backend hangs
    assert order == ["other work ran", "timed out"]

    # While that call is still stuck, later calls fail at once instead of queueing more.
    with pytest.raises(KeyStoreTimeout):
        await store.get()
    with pytest.raises(KeyStoreTimeout):
        store.get_sync()
    assert hanging.calls == 1
    status = await store.status()
    assert status.present is False and "may be locked" in (status.problem or "")

    # A session-only key is the way out.
    await store.set(KEY, session_only=True)
    assert await store.get() == KEY


def test_a_hanging_keyring_times_out_in_the_sync_api_too(hanging):
    store = KeyStore(backend=hanging, timeout_s=0.2)
    with pytest.raises(KeyStoreTimeout):
        store.set_sync(KEY)
    assert hanging.calls == 1


# --- the key never leaks ---------------------------------------------------------------------


def test_backend_errors_are_redacted_and_detached():
    store = KeyStore(backend=LeakyKeyring())
    with pytest.raises(KeyringFailure) as info:
        store.set_sync(KEY)
    error = info.value
    assert "D-Bus said no" in str(error)
    for text in (str(error), repr(error), error.user_message, str(error.args)):
        assert KEY not in text
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.asyncio
async def test_the_key_is_in_no_repr_and_no_log_record(caplog, memory_keyring):
    caplog.set_level(logging.DEBUG)
    store = KeyStore()
    await store.set(KEY)
    await store.get()
    location = await store.status()
    session = KeyStore(backend=fail.Keyring())
    await session.set(KEY, session_only=True)
    with pytest.raises(KeyringFailure):
        await KeyStore(backend=LeakyKeyring()).set(KEY)
    await store.delete()
    assert caplog.records  # the store does log what it does...
    for record in caplog.records:  # ...but never the key
        assert KEY not in record.getMessage()
    for text in (repr(store), repr(session), repr(location), str(location.to_json())):
        assert KEY not in text

"""The OpenRouter API key store: the OS keyring, with an explicit and labelled fallback.

Where the key comes from, in order:

1. ``OPENROUTER_API_KEY`` in the environment. Honoured read-only: ``set`` and ``delete``
   refuse, and say why.
2. The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker, KWallet) through
   ``keyring``.
3. A session-only key kept in this process's memory, offered when there is no system keyring
   (or it is locked); it is forgotten when the app quits.

Every keyring call runs in a daemon thread and is awaited with a timeout, so a locked Secret
Service waiting for an unlock prompt never freezes the GUI, the tray or the CLI; a call that is
still stuck makes the next ones fail at once instead of piling up more stuck threads.

The key is never written anywhere else, and never appears in an exception text, a ``repr``
or a log record: every message that could hold it goes through :func:`redact`, and errors
from a backend are re-raised without their original exception attached. Every key this store
reads (environment, keyring) or is given is registered with
:func:`~locallama_gui.core.redaction.register_secret`, so that from then on :func:`redact`
masks it, whole or in pieces, wherever it turns up (an upstream that echoes it, say).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import keyring
import keyring.errors

from locallama_gui.core.redaction import redact, register_secret

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE = "locallama-router"
USERNAME = "openrouter-api-key"
ENV_VAR = "OPENROUTER_API_KEY"
DEFAULT_TIMEOUT_S = 5.0

KEY_PREFIX = "sk-or-"
MIN_KEY_LENGTH = 20
MAX_KEY_LENGTH = 512

Where = Literal["keyring", "session", "env"]
#: How a keyring backend is treated: a real OS store, an unencrypted store, none, or unknown.
BackendKind = Literal["system", "insecure", "none", "other"]


#: Modules of the keyring backends that keep secrets in the operating system's own store.
_SYSTEM_BACKENDS: Mapping[str, str] = {
    "keyring.backends.SecretService": "Secret Service",
    "keyring.backends.libsecret": "Secret Service (libsecret)",
    "keyring.backends.macOS": "macOS Keychain",
    "keyring.backends.Windows": "Windows Credential Locker",
    "keyring.backends.kwallet": "KWallet",
}
_NO_BACKENDS = ("keyring.backends.fail", "keyring.backends.null")


class KeyStoreError(Exception):
    """Base of the key store's errors. ``user_message`` says what the user can do."""

    def __init__(self, message: str, *, secrets: Iterable[str | None] = ()) -> None:
        self.user_message = redact(message, secrets)
        super().__init__(self.user_message)

    def __str__(self) -> str:
        return self.user_message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.user_message!r})"


class KeyStoreTimeout(KeyStoreError):
    """The keyring did not answer in time (typically a locked Secret Service)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(
            f"The system keyring did not answer in {timeout_s:g} s; it may be locked. "
            "Unlock it, or use a session-only key."
        )


class NoSystemKeyring(KeyStoreError):
    """No system keyring exists here: offer the session-only key or the environment."""

    def __init__(self, detail: str | None = None) -> None:
        text = (
            "No system keyring is available on this computer (no Secret Service, Keychain, "
            "Credential Locker or KWallet was found), so the API key cannot be saved. "
            "You can use it for this session only (it is forgotten when the app quits), "
            f"or set the {ENV_VAR} environment variable."
        )
        super().__init__(f"{text} ({detail})" if detail else text)


class InsecureKeyring(KeyStoreError):
    """The configured keyring backend does not encrypt; storing needs explicit consent."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        super().__init__(
            f"The configured keyring backend ({backend}) keeps secrets unencrypted, so the "
            "API key was not stored there. Allow it explicitly, use a session-only key, "
            f"or set the {ENV_VAR} environment variable."
        )


class KeyFromEnvironment(KeyStoreError):
    """The key comes from ``OPENROUTER_API_KEY``, which is read-only here."""

    def __init__(self, action: str) -> None:
        super().__init__(
            f"Cannot {action} the API key: it comes from the {ENV_VAR} environment variable, "
            "which takes precedence and is read-only here. Unset the variable to manage the "
            "key in the app."
        )


class InvalidKey(KeyStoreError, ValueError):
    """The text does not look like an OpenRouter API key."""


class KeyringFailure(KeyStoreError):
    """The keyring backend raised an error (locked, refused, D-Bus failure, ...)."""


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """The keyring backend in use: dotted class name, a friendly name and how it is treated."""

    name: str
    display: str
    kind: BackendKind

    @property
    def is_system(self) -> bool:
        return self.kind == "system"


NO_BACKEND = BackendInfo("none", "no keyring", "none")


@dataclass(frozen=True, slots=True)
class KeyLocation:
    """Where the API key is (never the key itself)."""

    present: bool
    where: Where | None
    backend: str
    is_system: bool
    label: str
    #: Why the keyring could not be read, when it could not (locked, timed out, failed).
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "where": self.where,
            "backend": self.backend,
            "is_system": self.is_system,
        }


def location_label(where: Where | None, backend: BackendInfo) -> str:
    if where == "env":
        return f"From the {ENV_VAR} environment variable (read-only)"
    if where == "session":
        return "Session only: forgotten when the app quits"
    if where == "keyring":
        if backend.is_system:
            return f"Stored in the system keyring ({backend.display})"
        if backend.kind == "insecure":
            return f"Stored unencrypted by the keyring backend {backend.display}"
        return f"Stored by the keyring backend {backend.display}"
    return "No API key"


def classify_backend(backend: Any) -> BackendInfo:
    """How ``backend`` (a keyring backend instance) is treated.

    A chainer is judged by the backend it writes to (its first). ``fail`` and ``null`` mean no
    keyring. ``keyrings.alt`` and any plaintext/unencrypted backend are insecure. A backend may
    declare ``is_system = True`` itself; anything else unknown is "other" (usable, not system).
    """
    if backend is None:
        return NO_BACKEND
    cls = type(backend)
    module = cls.__module__
    if module == "keyring.backends.chainer":
        chained = list(getattr(backend, "backends", ()) or ())
        return classify_backend(chained[0]) if chained else NO_BACKEND
    name = f"{module}.{cls.__qualname__}"
    if module in _NO_BACKENDS:
        return BackendInfo(name, "no keyring", "none")
    declared = getattr(backend, "is_system", None)
    if isinstance(declared, bool):
        display = str(getattr(backend, "display_name", cls.__qualname__))
        return BackendInfo(name, display, "system" if declared else "other")
    if module in _SYSTEM_BACKENDS:
        return BackendInfo(name, _SYSTEM_BACKENDS[module], "system")
    lowered = f"{module}.{cls.__qualname__}".lower()
    if module.startswith("keyrings.alt") or "plaintext" in lowered or "unencrypted" in lowered:
        return BackendInfo(name, cls.__qualname__, "insecure")
    return BackendInfo(name, cls.__qualname__, "other")


def validate_key(text: str) -> str:
    """The key with surrounding whitespace removed, or :class:`InvalidKey` (never echoing it)."""
    if not isinstance(text, str):
        raise InvalidKey("The API key must be text.")
    key = text.strip()
    if not key:
        raise InvalidKey("The API key is empty.")
    hint = (
        f"OpenRouter API keys start with {KEY_PREFIX} (create one at openrouter.ai/settings/keys)."
    )
    if not key.startswith(KEY_PREFIX):
        raise InvalidKey(f"That does not look like an OpenRouter API key. {hint}", secrets=(key,))
    if any(ch.isspace() for ch in key):
        raise InvalidKey(
            "The API key contains spaces or line breaks; paste it as one word.", secrets=(key,)
        )
    if not key.isprintable() or not key.isascii():
        raise InvalidKey("The API key contains characters a key never has.", secrets=(key,))
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidKey(
            f"The API key is {len(key)} characters long; OpenRouter keys are "
            f"{MIN_KEY_LENGTH} to {MAX_KEY_LENGTH}. {hint}",
            secrets=(key,),
        )
    return key


# --------------------------------------------------------------------------- the store


class _Absent(Exception):
    """There is no usable keyring (fail/null backend, NoKeyringError)."""


class KeyStore:
    """The API key: environment, OS keyring, or a session-only key in memory.

    Async methods (``get``, ``set``, ``delete``, ``status``) are for the GUI and tray; the
    ``*_sync`` twins are for the CLI (never call them on a running event loop's thread).
    ``backend`` overrides ``keyring.get_keyring()`` (tests); ``environ`` overrides
    ``os.environ``.
    """

    #: Register every key read or stored for redaction (the OpenRouter key: yes; the gateway
    #: token, which ``locallama gateway token`` and the window show on purpose: no).
    registers_secrets = True

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        backend: Any = None,
        environ: Mapping[str, str] | None = None,
        service: str = SERVICE,
        username: str = USERNAME,
        allow_insecure: bool = False,
    ) -> None:
        self.timeout_s = timeout_s
        self.service = service
        self.username = username
        self.allow_insecure = allow_insecure
        self._backend_override = backend
        self._environ = environ
        self._session_key: str | None = None
        self._stuck: concurrent.futures.Future[Any] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = "session key held" if self._session_key else "no session key"
        return f"KeyStore(service={self.service!r}, {where}, timeout_s={self.timeout_s:g})"

    # ------------------------------------------------------------------ plumbing

    def env_key(self) -> str | None:
        environ = os.environ if self._environ is None else self._environ
        value = (environ.get(ENV_VAR) or "").strip()
        return self._seen(value or None)

    def _seen(self, key: str | None) -> str | None:
        """``key``, registered for redaction (see :attr:`registers_secrets`)."""
        if key and self.registers_secrets:
            register_secret(key)
        return key

    @property
    def has_session_key(self) -> bool:
        return self._session_key is not None

    def _backend(self) -> Any:
        return (
            self._backend_override if self._backend_override is not None else keyring.get_keyring()
        )

    def _submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn`` in a daemon thread (a hung backend never blocks interpreter exit)."""
        stuck = self._stuck
        if stuck is not None and not stuck.done():
            raise KeyStoreTimeout(self.timeout_s)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                with self._lock:
                    result = fn()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=work, name="locallama-keyring", daemon=True).start()
        return future

    async def _call(self, fn: Callable[[], T]) -> T:
        future = self._submit(fn)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # arrives as the keyring answers, and a quit then waits out the drain timeout
            async with asyncio.timeout(self.timeout_s):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            self._stuck = future
            log.info("the keyring did not answer in %g s", self.timeout_s)
            raise KeyStoreTimeout(self.timeout_s) from None

    def _call_sync(self, fn: Callable[[], T]) -> T:
        future = self._submit(fn)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            self._stuck = future
            log.info("the keyring did not answer in %g s", self.timeout_s)
            raise KeyStoreTimeout(self.timeout_s) from None

    # The blocking halves: run in the worker thread, translate backend errors.

    def _guarded(self, op: Callable[[Any], T], secrets: tuple[str, ...] = ()) -> Callable[[], T]:
        def run() -> T:
            failure: BaseException
            try:
                return op(self._backend())
            except (_Absent, KeyStoreError):
                raise
            except keyring.errors.NoKeyringError:
                failure = _Absent()
            except keyring.errors.KeyringLocked as exc:
                failure = KeyringFailure(
                    "The system keyring is locked. Unlock it and try again, or use a "
                    f"session-only key. ({redact(exc, secrets)})",
                    secrets=secrets,
                )
            except Exception as exc:
                failure = KeyringFailure(
                    f"The system keyring failed: {type(exc).__name__}: {redact(exc, secrets)}",
                    secrets=secrets,
                )
            # Raised here, outside the except blocks, so the backend's exception (whose text
            # or traceback locals could hold the key) is not attached as the context.
            raise failure

        return run

    def _read_keyring(self) -> tuple[BackendInfo, str | None]:
        def op(backend: Any) -> tuple[BackendInfo, str | None]:
            info = classify_backend(backend)
            if info.kind == "none":
                return info, None
            value = backend.get_password(self.service, self.username)
            return info, self._seen(value.strip() or None) if isinstance(value, str) else None

        try:
            return self._guarded(op)()
        except _Absent:
            return NO_BACKEND, None

    def _write_keyring(self, key: str, allow_insecure: bool) -> BackendInfo:
        def op(backend: Any) -> BackendInfo:
            info = classify_backend(backend)
            if info.kind == "none":
                raise _Absent
            if info.kind == "insecure" and not allow_insecure:
                raise InsecureKeyring(info.display)
            backend.set_password(self.service, self.username, key)
            return info

        return self._guarded(op, (key,))()

    def _delete_keyring(self) -> tuple[BackendInfo, bool]:
        def op(backend: Any) -> tuple[BackendInfo, bool]:
            info = classify_backend(backend)
            if info.kind == "none":
                return info, False
            if backend.get_password(self.service, self.username) is None:
                return info, False
            try:
                backend.delete_password(self.service, self.username)
            except keyring.errors.PasswordDeleteError:
                return info, False
            return info, True

        try:
            return self._guarded(op)()
        except _Absent:
            return NO_BACKEND, False

    def _backend_info(self) -> BackendInfo:
        try:
            return self._guarded(classify_backend)()
        except _Absent:
            return NO_BACKEND

    # ------------------------------------------------------------------ async API

    async def get(self) -> str | None:
        """The key (environment, keyring, then session), or None when there is none.

        A keyring that times out or fails falls back to the session key when one is held;
        otherwise the :class:`KeyStoreTimeout` / :class:`KeyringFailure` propagates.
        """
        env = self.env_key()
        if env:
            return env
        try:
            _, value = await self._call(self._read_keyring)
        except KeyStoreError:
            if self._session_key:
                return self._session_key
            raise
        return value or self._session_key

    async def set(
        self, key: str, *, session_only: bool = False, allow_insecure: bool | None = None
    ) -> KeyLocation:
        """Store ``key`` in the OS keyring, or only in memory when ``session_only``.

        Raises :class:`InvalidKey`, :class:`KeyFromEnvironment`, :class:`NoSystemKeyring`
        (offer ``session_only=True``), :class:`InsecureKeyring`, :class:`KeyStoreTimeout` or
        :class:`KeyringFailure`.
        """
        key = self._check_settable(key)
        if session_only:
            return self._set_session(key)
        allow = self.allow_insecure if allow_insecure is None else allow_insecure
        try:
            info = await self._call(lambda: self._write_keyring(key, allow))
        except _Absent:
            raise NoSystemKeyring() from None
        return self._stored(info)

    async def delete(self) -> bool:
        """Forget the key (keyring and session). True when something was removed."""
        if self.env_key():
            raise KeyFromEnvironment("delete")
        had_session = self._forget_session()
        _, removed = await self._call(self._delete_keyring)
        return removed or had_session

    async def status(self) -> KeyLocation:
        """Where the key is. Never raises for a locked or failing keyring: see ``problem``."""
        if self.env_key():
            try:
                info = await self._call(self._backend_info)
            except KeyStoreError:
                info = BackendInfo("unknown", "unknown", "other")
            return self._location("env", info)
        try:
            info, value = await self._call(self._read_keyring)
        except KeyStoreError as exc:
            return self._unreadable(exc)
        return self._location("keyring" if value else None, info)

    # ------------------------------------------------------------------ sync API (CLI)

    def get_sync(self) -> str | None:
        env = self.env_key()
        if env:
            return env
        try:
            _, value = self._call_sync(self._read_keyring)
        except KeyStoreError:
            if self._session_key:
                return self._session_key
            raise
        return value or self._session_key

    def set_sync(
        self, key: str, *, session_only: bool = False, allow_insecure: bool | None = None
    ) -> KeyLocation:
        key = self._check_settable(key)
        if session_only:
            return self._set_session(key)
        allow = self.allow_insecure if allow_insecure is None else allow_insecure
        try:
            info = self._call_sync(lambda: self._write_keyring(key, allow))
        except _Absent:
            raise NoSystemKeyring() from None
        return self._stored(info)

    def delete_sync(self) -> bool:
        if self.env_key():
            raise KeyFromEnvironment("delete")
        had_session = self._forget_session()
        _, removed = self._call_sync(self._delete_keyring)
        return removed or had_session

    def status_sync(self) -> KeyLocation:
        if self.env_key():
            try:
                info = self._call_sync(self._backend_info)
            except KeyStoreError:
                info = BackendInfo("unknown", "unknown", "other")
            return self._location("env", info)
        try:
            info, value = self._call_sync(self._read_keyring)
        except KeyStoreError as exc:
            return self._unreadable(exc)
        return self._location("keyring" if value else None, info)

    # ------------------------------------------------------------------ shared steps

    def _check_settable(self, key: str) -> str:
        if self.env_key():
            raise KeyFromEnvironment("store")
        valid = validate_key(key)
        self._seen(valid)
        return valid

    def _set_session(self, key: str) -> KeyLocation:
        self._session_key = key
        log.info("API key kept for this session only")
        return KeyLocation(
            present=True,
            where="session",
            backend=NO_BACKEND.name,
            is_system=False,
            label=location_label("session", NO_BACKEND),
        )

    def _forget_session(self) -> bool:
        had = self._session_key is not None
        self._session_key = None
        return had

    def _stored(self, info: BackendInfo) -> KeyLocation:
        self._session_key = None  # the keyring is authoritative now
        log.info("API key stored by %s", info.name)
        return self._location("keyring", info)

    def _location(self, where: Where | None, info: BackendInfo) -> KeyLocation:
        if where is None and self._session_key:
            where = "session"
        return KeyLocation(
            present=where is not None,
            where=where,
            backend=info.name,
            is_system=info.is_system,
            label=location_label(where, info),
        )

    def _unreadable(self, exc: KeyStoreError) -> KeyLocation:
        unknown = BackendInfo("unknown", "unknown", "other")
        where: Where | None = "session" if self._session_key else None
        return KeyLocation(
            present=where is not None,
            where=where,
            backend=unknown.name,
            is_system=False,
            label=location_label(where, unknown),
            problem=exc.user_message,
        )


# --------------------------------------------------------------------------- gateway token

GATEWAY_TOKEN_ENV = "LOCALLAMA_GATEWAY_TOKEN"
GATEWAY_TOKEN_USER = "gateway-token"
GATEWAY_TOKEN_PREFIX = "llr-"


def new_gateway_token() -> str:
    """A fresh bearer token for the local gateway (256 random bits)."""
    import secrets as _secrets

    return GATEWAY_TOKEN_PREFIX + _secrets.token_urlsafe(32)


def validate_gateway_token(text: str) -> str:
    token = text.strip() if isinstance(text, str) else ""
    if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
        raise InvalidKey("A gateway token is at least 16 printable characters without spaces.")
    return token


class GatewayTokenStore(KeyStore):
    """The gateway's bearer token: ``LOCALLAMA_GATEWAY_TOKEN``, else the OS keyring (made on
    first use). It guards a loopback port, not money, so an unencrypted keyring backend is
    accepted for it, and where there is no keyring at all it is kept in ``fallback_file``
    (owner-only permissions) so that ``locallama serve`` and ``locallama gateway token``
    agree; :attr:`where` says which."""

    registers_secrets = False

    def __init__(self, *, fallback_file: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("username", GATEWAY_TOKEN_USER)
        kwargs.setdefault("allow_insecure", True)
        super().__init__(**kwargs)
        self.fallback_file = fallback_file
        self.where: str | None = None

    def env_key(self) -> str | None:
        environ = os.environ if self._environ is None else self._environ
        value = (environ.get(GATEWAY_TOKEN_ENV) or "").strip()
        return value or None

    def _check_settable(self, key: str) -> str:
        if self.env_key():
            raise KeyStoreError(
                f"The gateway token comes from the {GATEWAY_TOKEN_ENV} environment variable."
            )
        return validate_gateway_token(key)

    def _read_file(self) -> str | None:
        from pathlib import Path

        if self.fallback_file is None:
            return None
        try:
            text = Path(self.fallback_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        try:
            return validate_gateway_token(text)
        except InvalidKey:
            return None

    def _write_file(self, token: str) -> bool:
        from pathlib import Path

        if self.fallback_file is None:
            return False
        path = Path(self.fallback_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(token + "\n")
            os.chmod(path, 0o600)
        except OSError as e:
            log.warning("the gateway token could not be saved to %s: %s", path, e)
            return False
        return True

    def ensure_sync(self, *, new: bool = False) -> str:
        """The token, made and stored on first use (never on an event loop's thread).
        ``new`` replaces it (the old one stops working)."""
        env = self.env_key()
        if env:
            if new:
                raise KeyStoreError(
                    f"The gateway token comes from the {GATEWAY_TOKEN_ENV} environment "
                    "variable; change or unset it there."
                )
            self.where = "env"
            return env
        if not new:
            try:
                token = self.get_sync()
            except NoSystemKeyring:
                token = None
            if token:
                self.where = "session" if self.has_session_key else "keyring"
                return token
            token = self._read_file()
            if token:
                self.where = "file"
                return token
        token = new_gateway_token()
        try:
            self.set_sync(token)
            self.where = "keyring"
        except (NoSystemKeyring, KeyStoreTimeout, KeyringFailure):
            if self._write_file(token):
                self.where = "file"
            else:
                self.set_sync(token, session_only=True)
                self.where = "session"
        return token

"""``locallama key set``, ``key status`` and ``key delete``: the API key in the key store.

The key is read from stdin when stdin is not a terminal (``echo "$KEY" | locallama key set``)
and from a hidden prompt otherwise; never from an argument, which would land in the shell
history and the process list. No command prints the key. A session-only key means nothing to a
command line that exits at once, so where there is no system keyring the commands say so and
point to ``OPENROUTER_API_KEY``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from locallama_gui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Parser,
    emit_json,
    redacted_output,
)
from locallama_gui.secrets import (
    ENV_VAR,
    MAX_KEY_LENGTH,
    InsecureKeyring,
    KeyFromEnvironment,
    KeyLocation,
    KeyStore,
    KeyStoreError,
    KeyStoreTimeout,
    NoSystemKeyring,
    redact,
)

NO_KEYRING_CLI = (
    "No system keyring is available on this computer (no Secret Service, Keychain, "
    "Credential Locker or KWallet was found), so the key cannot be stored. Set the "
    f"{ENV_VAR} environment variable instead (the desktop app can also keep a key for one "
    "session)."
)
TIMEOUT_CLI = (
    "The system keyring did not answer in {timeout:g} s; it may be locked. Unlock it and try "
    f"again, or set the {ENV_VAR} environment variable instead."
)

#: How the key store is made; tests may replace it.
make_store: Callable[[], KeyStore] = KeyStore


def read_key(stdin: TextIO | None = None) -> str:
    """The key from piped stdin, or from a hidden prompt on a terminal."""
    stream = sys.stdin if stdin is None else stdin
    if stream is None:
        raise CliError("no input: pipe the key on stdin, or run in a terminal to be prompted")
    if stream.isatty():
        try:
            return getpass.getpass("OpenRouter API key (input hidden): ")
        except EOFError:
            return ""
    text = stream.read(MAX_KEY_LENGTH * 4 + 1)
    if len(text) > MAX_KEY_LENGTH * 4:
        raise CliError("the input on stdin is far too long to be an API key")
    return text


def _fail(exc: KeyStoreError) -> CliError:
    if isinstance(exc, NoSystemKeyring):
        return CliError(NO_KEYRING_CLI)
    if isinstance(exc, KeyStoreTimeout):
        return CliError(TIMEOUT_CLI.format(timeout=exc.timeout_s))
    if isinstance(exc, InsecureKeyring):
        return CliError(
            f"The configured keyring backend ({exc.backend}) keeps secrets unencrypted, so the "
            "key was not stored. Use --allow-insecure-keyring to store it there anyway, or set "
            f"the {ENV_VAR} environment variable."
        )
    return CliError(redact(exc.user_message))


# --- key set ---------------------------------------------------------------------------------


def cmd_key_set(args: argparse.Namespace) -> int:
    if args.stray:
        # Nothing of what was typed is repeated: it may be the key itself.
        raise CliError(
            "the key is never taken as an argument (it would stay in the shell history): "
            "pipe it (echo \"$KEY\" | locallama key set) or run 'locallama key set' and paste "
            "it at the prompt"
        )
    store = make_store()
    if store.env_key():
        raise CliError(KeyFromEnvironment("store").user_message)
    text = read_key()
    try:
        location = store.set_sync(text, allow_insecure=args.allow_insecure_keyring)
    except KeyStoreError as e:
        raise _fail(e) from None
    print(f"API key saved. {location.label}.")
    if not location.is_system:
        print(
            f"note: {location.backend} is not a system keyring; prefer one, or {ENV_VAR}",
            file=sys.stderr,
        )
    return EXIT_OK


# --- key status ------------------------------------------------------------------------------


def _status_lines(location: KeyLocation) -> list[str]:
    if not location.present:
        lines = [
            "API key: none",
            f"  Store one with 'locallama key set', or set the {ENV_VAR} environment variable.",
        ]
    else:
        lines = ["API key: present", f"  where:   {location.label}"]
    system = "yes" if location.is_system else "no"
    lines.append(f"  keyring: {location.backend} (system keyring: {system})")
    return lines


def cmd_key_status(args: argparse.Namespace) -> int:
    if getattr(args, "check", False):
        from locallama_gui.cli.live_commands import cmd_key_check

        return cmd_key_check(args)
    location = make_store().status_sync()
    if args.json:
        emit_json(location.to_json())
    else:
        print("\n".join(_status_lines(location)))
    if location.problem:
        print(f"note: {redact(location.problem)}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


# --- key delete ------------------------------------------------------------------------------


def cmd_key_delete(args: argparse.Namespace) -> int:
    store = make_store()
    try:
        removed = store.delete_sync()
    except KeyStoreError as e:
        raise _fail(e) from None
    print("API key deleted from the keyring." if removed else "No stored API key to delete.")
    return EXIT_OK


# --- parser ----------------------------------------------------------------------------------


def add_key_actions(key_sub: argparse._SubParsersAction, *, status: bool = True) -> None:
    """Add ``set``, ``delete`` and (unless ``status=False``) ``status`` to a ``key`` group."""
    k = key_sub.add_parser("set", help="store the key in the system keyring (stdin or prompt)")
    k.add_argument("stray", nargs="*", help=argparse.SUPPRESS)
    k.add_argument(
        "--allow-insecure-keyring",
        action="store_true",
        help="store it even when the keyring backend does not encrypt",
    )
    k.set_defaults(func=cmd_key_set)

    if status:
        k = key_sub.add_parser("status", help="whether a key is set and where (never the key)")
        k.add_argument("--json", action="store_true", help="print JSON (a stable interface)")
        k.add_argument(
            "--check",
            action="store_true",
            help="ask OpenRouter (GET /key): usage, limit and the free-tier daily cap",
        )
        from locallama_gui.cli.live_commands import add_endpoint_args, add_timing_args

        add_endpoint_args(k)
        add_timing_args(k)  # --deadline / --timeout of --check
        k.set_defaults(func=cmd_key_status)

    k = key_sub.add_parser("delete", help="remove the key from the keyring")
    k.set_defaults(func=cmd_key_delete)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("key", help="the OpenRouter API key: set, status, delete")
    key_sub = p.add_subparsers(dest="key_command", metavar="ACTION", parser_class=type(p))
    add_key_actions(key_sub)

    def usage(args: argparse.Namespace) -> int:
        p.print_usage(sys.stderr)
        print(
            "locallama: error: choose an action: key set, key status, key delete", file=sys.stderr
        )
        return EXIT_USAGE

    p.set_defaults(func=usage)


def main(argv: Sequence[str] | None = None) -> int:
    """Only the ``key`` commands, as ``locallama key ...`` runs them (scripts and tests)."""
    with redacted_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = Parser(prog="locallama")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except CliError as e:
        print(f"locallama: error: {e}", file=sys.stderr)
        return EXIT_ERROR

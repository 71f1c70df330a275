"""The ``locallama`` command line.

Every command prints a readable answer, or with ``--json`` a stable JSON document (see the
README). Bad arguments and bad files give a one-line error and a non-zero exit, never a
traceback. Each group of commands lives in its own module and registers its sub-parsers here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from locallama_gui import __version__
from locallama_gui.cli import (
    benchmark_commands,
    core_commands,
    evaluate_commands,
    gateway_commands,
    key_commands,
    live_commands,
    mcp_commands,
)
from locallama_gui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Parser,
    redacted_output,
)

COMMAND_MODULES = (
    core_commands,
    live_commands,
    key_commands,
    evaluate_commands,
    benchmark_commands,
    gateway_commands,
    mcp_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="locallama",
        description="Which LLM to send a task to (local, free or paid), and what it will cost.",
    )
    parser.add_argument("--version", action="version", version=f"locallama {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``locallama`` command. Its output (stdout, stderr, log lines) never holds the API
    key: see :func:`~locallama_gui.cli.common.redacted_output`."""
    with redacted_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    logging.basicConfig(level=logging.WARNING, format="locallama: %(levelname)s: %(message)s")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors: argparse already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except CliError as e:
        print(f"locallama: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("locallama: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # the last line of defence: one line, and where the details are
        logging.getLogger("locallama").debug("unexpected error", exc_info=True)
        print(f"locallama: error: unexpected {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

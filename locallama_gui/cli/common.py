"""What every ``locallama`` command shares: argument types, errors, output helpers."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from locallama_gui.core.redaction import RedactingStream, install_log_redaction, redact_known
from locallama_gui.services.catalogue import CatalogueLoadError, load_from_file
from locallama_gui.services.facade import Services
from locallama_gui.services.spend import SpendLimits

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024


class CliError(Exception):
    """A problem to report in one line, with exit status 1."""

    exit_code = EXIT_ERROR


class BadInputFile(CliError):
    """A file given on the command line that is not in its format (the message names the
    line and says what to do): exit status 2, as for a usage mistake."""

    exit_code = EXIT_USAGE


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        self.exit(EXIT_USAGE, f"locallama: error: {message} (see --help)\n")


# --- argument types ------------------------------------------------------------------------


def nonneg_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def pos_int(text: str) -> int:
    value = nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def money(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected an amount in USD, got {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative amount, got {text!r}")
    return value


def when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date-time such as 2026-08-14T13:30Z, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- shared plumbing -----------------------------------------------------------------------


def read_text_file(path: str, what: str) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_PROMPT_FILE_BYTES:
            raise CliError(f"{p}: larger than {MAX_PROMPT_FILE_BYTES // 2**20} MiB")
        return p.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise CliError(f"{what} {p}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{what} {p}: is a folder") from None
    except OSError as e:
        raise CliError(f"{what} {p}: cannot read it ({e.strerror or e})") from None


def open_services(args: argparse.Namespace) -> Services:
    from_file = getattr(args, "from_file", None)
    if from_file:
        try:
            catalogue = load_from_file(from_file)
        except CatalogueLoadError as e:
            raise CliError(str(e)) from None
        return Services.open(use_store=False, catalogue=catalogue)
    return Services.open()


def print_notices(services: Services, args: argparse.Namespace) -> None:
    """Tell the user where the data comes from (stderr, so --json stays clean)."""
    if getattr(args, "quiet", False):
        return
    for notice in services.notices:
        print(f"note: {notice}", file=sys.stderr)


def emit_json(data: Any) -> None:
    # one string, one write: redacted in one pass (a key in it is masked, the JSON stays valid)
    sys.stdout.write(redact_known(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """Everything written to stdout and stderr, and every log record, with the live API key
    masked (:mod:`locallama_gui.core.redaction`): whole, without its prefix or in pieces,
    whatever echoed it (an upstream's ``provider`` field, an error text, an answer). The MCP
    server's own messages go to the real stdout's buffer and are redacted by the server."""
    install_log_redaction()
    out, err = sys.stdout, sys.stderr
    if isinstance(out, RedactingStream) or out is None or err is None:
        yield  # already redacted (main called from main), or no streams at all
        return
    wrapped_out = RedactingStream(out)
    wrapped_err = RedactingStream(err, line_buffered=True)
    sys.stdout, sys.stderr = wrapped_out, wrapped_err  # type: ignore[assignment]
    try:
        yield
    finally:
        for stream in (wrapped_out, wrapped_err):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
                stream.finish()
        if sys.stdout is wrapped_out:
            sys.stdout = out
        if sys.stderr is wrapped_err:
            sys.stderr = err


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for k, cell in enumerate(row):
            widths[k] = max(widths[k], len(cell))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(lines)


# --- spend guardrails (run, serve) ---------------------------------------------------------


def add_spend_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("spend guardrails (override the settings for this run)")
    g.add_argument("--daily-cap", type=money, metavar="USD", help="most to spend today (UTC)")
    g.add_argument("--monthly-cap", type=money, metavar="USD", help="most to spend this month")
    g.add_argument(
        "--refuse-paid-fallback",
        action="store_true",
        default=None,
        help="never fall back from a free or local model to a paid one",
    )


def limits_from_args(args: argparse.Namespace, services: Services) -> SpendLimits:
    return SpendLimits.from_settings(
        services,
        daily_cap_usd=getattr(args, "daily_cap", None),
        monthly_cap_usd=getattr(args, "monthly_cap", None),
        refuse_paid_fallback=getattr(args, "refuse_paid_fallback", None),
    )

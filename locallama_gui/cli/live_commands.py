"""``locallama refresh``, ``key status``, ``run``, ``sources`` and ``quarantine``.

These talk to the servers. Each takes ``--openrouter-url``, ``--ollama-url``,
``--lmstudio-url`` and a repeatable ``--server-url`` (OpenAI-compatible servers) that override
the settings for that run. The OpenRouter key comes from ``OPENROUTER_API_KEY``; it is never
printed.

``refresh``, ``sources``, ``key status --check`` and ``run`` end within one deadline
(``--deadline S``: 15 s, and 120 s for a run until a model answers) and say so when it
stopped them; ``--timeout S`` is how long a server has to connect and to send each part of
its answer (30 s). A host that did not answer is skipped for the rest of the operation.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from locallama_gui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    CliError,
    add_spend_args,
    emit_json,
    fraction,
    limits_from_args,
    nonneg_int,
    pos_int,
    read_text_file,
    table,
)
from locallama_gui.cli.core_commands import _add_policy_args, _policy_from_args, _task_from_args
from locallama_gui.core.breaker import format_seconds
from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import Source, decimal_str
from locallama_gui.core.routing import CAPABILITIES, CATEGORIES
from locallama_gui.secrets import KeyStore, KeyStoreError
from locallama_gui.services.deadline import (
    DEFAULT_FETCH_DEADLINE_S,
    DEFAULT_RUN_DEADLINE_S,
    MAX_DEADLINE_S,
)
from locallama_gui.services.facade import Services
from locallama_gui.services.live import (
    LiveServices,
    configured_endpoints,
    deadline_summary,
    describe_error,
)
from locallama_gui.services.quarantine import Quarantine
from locallama_gui.services.refresh import RefreshResult, RefreshService
from locallama_gui.services.runner import FAILED, OK, Runner, RunPolicy, RunResult
from locallama_gui.sources import COST_PROVIDER, HttpPolicy, KeyStatus, SourceError, SourceTimeout

KEY_ENV = "OPENROUTER_API_KEY"
#: ``refresh``: the local servers answered, OpenRouter did not (its models are the stored ones).
EXIT_OPENROUTER_DOWN = 4
NO_KEY_MESSAGE = (
    "no OpenRouter API key: store one with 'locallama key set', or set the "
    f"{KEY_ENV} environment variable (keys start with sk-or-; create one at "
    "openrouter.ai/settings/keys)"
)


def current_api_key() -> str | None:
    """The key from the environment, the system keyring or nowhere (never printed)."""
    try:
        return KeyStore().get_sync()
    except KeyStoreError as e:
        raise CliError(e.user_message) from None


def open_live(args: argparse.Namespace, services: Services) -> LiveServices:
    endpoints = configured_endpoints(
        services.settings,
        openrouter_url=args.openrouter_url,
        ollama_url=args.ollama_url,
        lmstudio_url=args.lmstudio_url,
        server_urls=args.server_url,
    )
    return LiveServices(
        services, endpoints=endpoints, api_key=current_api_key(), policy=policy_from_args(args)
    )


def policy_from_args(args: argparse.Namespace) -> HttpPolicy | None:
    """The HTTP policy with ``--timeout`` (None: the default policy)."""
    timeout = getattr(args, "timeout", None)
    if timeout is None:
        return None
    default = HttpPolicy()
    return HttpPolicy(
        connect_timeout=min(default.connect_timeout, timeout),
        read_timeout=timeout,
        total_timeout=max(default.total_timeout, 2 * timeout),
    )


def _note(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"note: {text}", file=sys.stderr)


def _store_notices(services: Services, args: argparse.Namespace) -> None:
    """Notices other than the catalogue's own (a refresh replaces that catalogue)."""
    for notice in services.notices:
        if notice != services.catalogue.notice:
            _note(args, notice)


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


# --- refresh ---------------------------------------------------------------------------------


async def _refresh(services: Services, args: argparse.Namespace) -> RefreshResult:
    async with open_live(args, services) as live:
        return await RefreshService(live, deadline_s=args.deadline).refresh()


def _exit_for_sources(statuses: Sequence[Any], what: str) -> int:
    """0 when OpenRouter (if asked) answered; 4 when only local servers did; 1 when none."""
    if not any(s.up for s in statuses):
        print(f"locallama: error: no source answered; {what}", file=sys.stderr)
        return EXIT_ERROR
    if any(s.kind == Source.OPENROUTER.value and not s.up for s in statuses):
        return EXIT_OPENROUTER_DOWN
    return EXIT_OK


def _print_sources_table(result: RefreshResult) -> None:
    rows = []
    for s in result.sources:
        if s.up:
            state, models = "up", str(s.model_count)
            if s.unreadable:
                models += f" (+{s.unreadable} unreadable)"
        else:
            state = "down"
            models = f"{s.kept_previous} kept" if s.kept_previous else "-"
        rows.append((s.kind, s.url, state, models, _ms(s.duration_ms)))
    print(table(rows, ("source", "url", "status", "models", "time")))
    for s in result.failed:
        print(f"  {s.kind} at {s.url}: {s.error}")
    for s in result.sources:
        if s.up and s.unreadable:
            first = s.skipped[0]
            where = f"{first.id}: " if first.id else f"entry {first.index}: "
            print(
                f"  {s.kind}: {s.unreadable} entr{'y' if s.unreadable == 1 else 'ies'} could not "
                f"be read; {s.kept_unreadable} kept their last good record "
                f"(first: {where}{first.reason})"
            )


def _print_diff(result: RefreshResult, limit: int = 8) -> None:
    d = result.diff
    if d.is_empty:
        print("No changes since the previous catalogue.")
        return
    print(
        f"Changes: {len(d.added)} added, {len(d.removed)} removed, {len(d.repriced)} repriced, "
        f"{len(d.free_ended)} free variants ended."
    )
    groups: list[tuple[str, Sequence[str]]] = [
        ("added", d.added),
        ("removed", d.removed),
        ("repriced", [r.id for r in d.repriced]),
        ("free ended", d.free_ended),
    ]
    for name, ids in groups:
        if ids:
            more = f" (+{len(ids) - limit} more)" if len(ids) > limit else ""
            print(f"  {name}: {', '.join(ids[:limit])}{more}")


def cmd_refresh(args: argparse.Namespace) -> int:
    services = Services.open()
    try:
        _store_notices(services, args)
        result = asyncio.run(_refresh(services, args))
    finally:
        services.close()
    if args.json:
        emit_json(result.to_dict())
    else:
        _print_sources_table(result)
        print()
        _print_diff(result)
        print(f"Catalogue: {len(result.catalogue.models)} models ({result.catalogue.label}).")
        if result.catalogue.notice:
            _note(args, result.catalogue.notice)
    if result.stopped:
        print(f"locallama: {result.stopped}", file=sys.stderr)
    code = _exit_for_sources(result.sources, "nothing was refreshed")
    if code == EXIT_OPENROUTER_DOWN:
        _note(args, "OpenRouter did not answer: its models are the stored ones (exit status 4)")
    return code


# --- key status ------------------------------------------------------------------------------


def _money(value: Any) -> str:
    return "?" if value is None else format_usd(value, 2)


def _key_view(status: KeyStatus, services: Services) -> dict[str, Any]:
    def dec(value: Any) -> str | None:
        return None if value is None else decimal_str(value)

    quota = services.quota_status()
    cap_source = services.settings.routing.free_daily_cap_source
    return {
        "valid": True,
        "usage_usd": dec(status.usage),
        "usage_daily_usd": dec(status.usage_daily),
        "usage_weekly_usd": dec(status.usage_weekly),
        "usage_monthly_usd": dec(status.usage_monthly),
        "limit_usd": dec(status.limit),
        "limit_remaining_usd": dec(status.limit_remaining),
        "limit_reset": status.limit_reset,
        "is_free_tier": status.is_free_tier,
        "expires_at": status.expires_at,
        "free_limits": {"per_minute": quota.per_minute, "per_day": quota.per_day},
        "free_limits_source": cap_source,
        "free_model_daily_requests": None
        if not status.free_cap_reported
        else {
            "limit": status.free_daily_limit,
            "remaining": status.free_daily_remaining,
            "used": status.free_daily_used,
        },
        "free_requests_today": quota.used_day,
        "free_day_exhausted": quota.day_exhausted,
    }


def cmd_key_check(args: argparse.Namespace) -> int:
    """``key status --check``: what OpenRouter says of the key (usage, limits, free tier)."""
    if current_api_key() is None:
        raise CliError(NO_KEY_MESSAGE)
    services = Services.open()
    try:

        async def go() -> KeyStatus:
            async with open_live(args, services) as live:
                return await live.key_status(deadline_s=args.deadline)

        try:
            status = asyncio.run(go())
        except SourceTimeout as e:
            within = f" within {format_seconds(e.timeout_s)}" if e.timeout_s else " in time"
            raise CliError(
                f"OpenRouter did not answer{within}; try again later or check --openrouter-url"
                f" (now {e.url})"
            ) from None
        except SourceError as e:
            raise CliError(describe_error(e)) from None
        view = _key_view(status, services)
    finally:
        services.close()
    if args.json:
        emit_json(view)
        return EXIT_OK
    print("OpenRouter key: valid")
    parts = [
        f"today {_money(status.usage_daily)}",
        f"this week {_money(status.usage_weekly)}",
        f"this month {_money(status.usage_monthly)}",
    ]
    print(f"  usage:   {_money(status.usage)} ({', '.join(parts)})")
    if status.limit is None:
        print("  limit:   none on this key")
    else:
        reset = f", resets {status.limit_reset}" if status.limit_reset else ""
        print(f"  limit:   {_money(status.limit)}, {_money(status.limit_remaining)} left{reset}")
    bought = {None: "unknown", True: "no", False: "yes"}[status.is_free_tier]
    per = view["free_limits"]
    print(
        f"  credits bought: {bought}; free models: {per['per_minute']}/minute, "
        f"{per['per_day']}/UTC day ({view['free_limits_source']})"
    )
    exhausted = " (limit reached)" if view["free_day_exhausted"] else ""
    if status.free_cap_reported:
        print(
            f"  free requests today (every client of the account, as OpenRouter counts): "
            f"{status.free_daily_used if status.free_daily_used is not None else '?'} used, "
            f"{status.free_daily_remaining if status.free_daily_remaining is not None else '?'}"
            f" left{exhausted}"
        )
    else:
        print(f"  free requests sent today by this app: {view['free_requests_today']}{exhausted}")
    if status.expires_at:
        print(f"  expires: {status.expires_at}")
    return EXIT_OK


# --- sources ---------------------------------------------------------------------------------


def cmd_sources(args: argparse.Namespace) -> int:
    services = Services.open()
    try:

        async def go():
            async with open_live(args, services) as live:
                return await live.fetch_all(deadline_s=args.deadline)

        statuses = asyncio.run(go())
        quarantined = Quarantine(services.store, clock=services.clock).listing()
    finally:
        services.close()
    stopped = deadline_summary(statuses, args.deadline)
    if args.json:
        emit_json(
            {
                "sources": [s.to_dict() for s in statuses],
                "deadline_s": args.deadline,
                "stopped": stopped,
            }
        )
        return _exit_for_sources(statuses, "see the sources above")
    for s in statuses:
        if s.up:
            print(f"{s.kind:<13} {s.url}  up, {s.model_count} models ({_ms(s.duration_ms)})")
            for m in sorted(s.models, key=lambda m: m.id)[: args.limit]:
                print(f"    {m.id}  ({m.tier.value})")
            if s.model_count > args.limit:
                print(f"    … {s.model_count - args.limit} more (--limit N or --json)")
        else:
            print(f"{s.kind:<13} {s.url}  down: {s.error}")
    if quarantined:
        print()
        print("Quarantined (skipped until then):")
        for q in quarantined:
            print(f"    {q.model_id}  until {q.until:%Y-%m-%d %H:%M:%S} UTC  ({q.reason})")
    if stopped:
        print(f"locallama: {stopped}", file=sys.stderr)
    return _exit_for_sources(statuses, "see the sources above")


# --- quarantine ------------------------------------------------------------------------------


def cmd_quarantine(args: argparse.Namespace) -> int:
    services = Services.open()
    try:
        if services.store is None:
            raise CliError("the history database is unavailable; see the notes above")
        q = Quarantine(services.store, clock=services.clock)
        if args.clear_all or args.clear:
            n = q.clear(None if args.clear_all else args.clear)
            print(f"Lifted {n} quarantine{'s' if n != 1 else ''}.")
            return EXIT_OK
        entries = q.listing()
    finally:
        services.close()
    if args.json:
        emit_json(
            {
                "quarantined": [
                    {
                        "model": e.model_id,
                        "until": e.until.isoformat(),
                        "failures": e.failures,
                        "reason": e.reason,
                    }
                    for e in entries
                ]
            }
        )
        return EXIT_OK
    if not entries:
        print("No model is quarantined.")
        return EXIT_OK
    rows = [
        (e.model_id, f"{e.until:%Y-%m-%d %H:%M} UTC", str(e.failures), e.reason) for e in entries
    ]
    print(table(rows, ("model", "until", "failures", "reason")))
    return EXIT_OK


# --- run -------------------------------------------------------------------------------------


class _Printer:
    """Streams the answer to stdout; notes a switch of model after a partial answer."""

    def __init__(self, args: argparse.Namespace, enabled: bool) -> None:
        self.args = args
        self.enabled = enabled
        self.current: str | None = None
        self.partial = False
        self.wrote = False

    def attempt(self, model_id: str) -> None:
        if self.enabled and self.partial:
            sys.stdout.write("\n")
            sys.stdout.flush()
            _note(self.args, f"{self.current} stopped mid-answer; trying {model_id}")
        self.current = model_id
        self.partial = False

    def delta(self, text: str) -> None:
        if not self.enabled:
            return
        sys.stdout.write(text)
        sys.stdout.flush()
        self.partial = True
        self.wrote = True


def _cost_text(run: RunResult) -> str:
    r = run.result
    assert r is not None
    if r.cost_usd is None:
        return "unknown"
    amount = format_usd(r.cost_usd, 8)
    if run.tier in ("free", "local") and r.cost_usd == 0:
        return f"{amount} ({run.tier})"
    origin = "reported by the provider" if r.cost_source == COST_PROVIDER else "from list prices"
    return f"{amount} ({origin})"


async def _route_and_run(
    services: Services, args: argparse.Namespace, printer: _Printer
) -> tuple[Any, RunResult | None]:
    async with open_live(args, services) as live:
        sources_down: set[Source] = set()
        if args.refresh:
            refreshed = await RefreshService(live, deadline_s=DEFAULT_FETCH_DEADLINE_S).refresh()
            if refreshed.stopped:
                _note(args, f"refresh {refreshed.stopped}")
            for s in refreshed.failed:
                _note(args, f"{s.kind} at {s.url} is down: {s.error}")
            up = {s.kind for s in refreshed.sources if s.up}
            for s in refreshed.failed:
                if s.kind != Source.OPENROUTER.value and s.kind not in up:
                    sources_down.add(Source(s.kind))
        task = _task_from_args(args, services)
        policy = _policy_from_args(args, services)
        decision = services.route(
            task,
            policy,
            record=True,
            key_present=live.api_key is not None,
            sources_down=frozenset(sources_down),
        )
        if not decision.chain_ids:
            return decision, None
        chosen = decision.chain_ids[0]
        rest = decision.chain_ids[1:]
        if not args.json:
            fallbacks = f"; fallbacks: {', '.join(rest)}" if rest else ""
            _note(args, f"routing to {chosen}{fallbacks}")
        runner = Runner(
            live,
            policy=RunPolicy(
                max_wait_s=args.max_wait, max_tokens=args.max_tokens, deadline_s=args.deadline
            ),
            limits=limits_from_args(args, services),
            client="cli",
        )
        prompt = task.prompt or ""
        result = await runner.run(
            decision, prompt, on_delta=printer.delta, on_attempt=printer.attempt
        )
        return decision, result


def cmd_run(args: argparse.Namespace) -> int:
    if args.prompt_text is not None:
        if args.prompt is not None:
            raise CliError("give the prompt once: as an argument or with --prompt")
        args.prompt = args.prompt_text
    if args.prompt == "-":
        args.prompt = sys.stdin.read()
    if args.prompt_file:
        args.prompt = read_text_file(args.prompt_file, "prompt file")
        args.prompt_file = None
    if not args.prompt or not args.prompt.strip():
        raise CliError("give a prompt: locallama run 'your prompt' (or --prompt-file FILE)")
    args.prompt_tokens = None
    services = Services.open()
    printer = _Printer(args, enabled=not args.json)
    try:
        _store_notices(services, args)
        decision, run = asyncio.run(_route_and_run(services, args, printer))
    finally:
        services.close()
    if run is None:
        why = "; ".join(decision.why[:3]) if decision.why else ""
        hint = "" if current_api_key() else f" ({KEY_ENV} is not set, so OpenRouter is out)"
        raise CliError(f"no model can take this task{hint}: {why}".rstrip(": "))
    if args.json:
        out = run.to_dict()
        out["chain"] = list(decision.chain_ids)
        emit_json(out)
        return EXIT_OK if run.ok else EXIT_ERROR
    if not run.ok:
        if printer.wrote:
            sys.stdout.write("\n")
        for a in run.attempts:  # what each model of the chain did, then why nothing answered
            _note(args, f"{a.model_id}: {a.outcome}: {a.error}")
        raise CliError(run.error or "the task failed")
    r = run.result
    assert r is not None
    if printer.wrote and not r.text.endswith("\n"):
        sys.stdout.write("\n")
    failed = [a for a in run.attempts if a.outcome not in (OK,)]
    for a in failed:
        if a.outcome == FAILED or args.verbose:
            _note(args, f"{a.model_id}: {a.outcome}: {a.error}")
    print("---")
    used = r.model_used or run.model_id
    via = f" via {r.provider}" if r.provider and r.provider not in (used or "") else ""
    routed = f" (routed to {run.model_id})" if used != run.model_id else ""
    print(f"model:  {used} [{run.tier}]{via}{routed}")
    if r.usage is not None:
        print(
            f"tokens: {r.usage.prompt_tokens:,} prompt + {r.usage.completion_tokens:,} completion"
        )
    else:
        print("tokens: not reported")
    print(f"cost:   {_cost_text(run)}")
    if args.verbose and r.latency_ms is not None:
        speed = f", {r.tokens_per_s:.1f} tokens/s" if r.tokens_per_s else ""
        print(f"time:   {_ms(r.latency_ms)}{speed}")
    return EXIT_OK


# --- parser ----------------------------------------------------------------------------------


def add_endpoint_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("servers (override the settings for this run)")
    g.add_argument("--openrouter-url", metavar="URL", help="OpenRouter API base URL")
    g.add_argument("--ollama-url", metavar="URL", help="Ollama server URL")
    g.add_argument("--lmstudio-url", metavar="URL", help="LM Studio server URL")
    g.add_argument(
        "--server-url",
        action="append",
        metavar="URL",
        help="an OpenAI-compatible server (llama.cpp, vLLM); repeat for several; replaces "
        "the configured list",
    )


def add_timing_args(
    p: argparse.ArgumentParser, deadline_s: float = DEFAULT_FETCH_DEADLINE_S
) -> None:
    """``--deadline S`` (the whole operation) and ``--timeout S`` (each wait on a server)."""
    g = p.add_argument_group("time limits")
    g.add_argument(
        "--deadline",
        type=_deadline,
        default=deadline_s,
        metavar="S",
        help=f"stop after S seconds in all, saying so (default {deadline_s:g})",
    )
    g.add_argument(
        "--timeout",
        type=_deadline,
        default=None,
        metavar="S",
        help="seconds a server has to connect and to send each part of its answer (default "
        f"{HttpPolicy().read_timeout:g}); a host that does not answer in time is skipped",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("refresh", help="fetch the models of every enabled source and store them")
    p.add_argument("--json", action="store_true", help="print JSON (a stable interface)")
    p.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    add_endpoint_args(p)
    add_timing_args(p)
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("run", help="route a prompt and run it, streaming the answer")
    p.add_argument("prompt_text", nargs="?", metavar="PROMPT", help="the prompt ('-': stdin)")
    p.add_argument("--prompt", metavar="TEXT", help=argparse.SUPPRESS)
    p.add_argument("--prompt-file", metavar="FILE")
    p.add_argument("--output-tokens", type=nonneg_int, default=512, metavar="M")
    p.add_argument("--max-tokens", type=pos_int, metavar="N", help="completion limit sent")
    p.add_argument("--complexity", type=fraction, metavar="C", help="0..1 (estimated if absent)")
    p.add_argument("--category", default="chat", choices=CATEGORIES)
    p.add_argument("--capability", action="append", choices=CAPABILITIES)
    p.add_argument("--pin", metavar="ID", help="route with this model pinned")
    p.add_argument("--allow", action="append", metavar="PATTERN", help="only these ids (glob)")
    p.add_argument("--deny", action="append", metavar="PATTERN", help="never these ids (glob)")
    p.add_argument(
        "--max-wait",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for a free per-minute limit to reset (default: move on)",
    )
    p.add_argument("--refresh", action="store_true", help="refresh the catalogue first")
    p.add_argument("--json", action="store_true", help="print the result as JSON (no streaming)")
    p.add_argument("-v", "--verbose", action="store_true", help="every attempt and timings")
    p.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    _add_policy_args(p)
    add_spend_args(p)
    add_endpoint_args(p)
    add_timing_args(p, DEFAULT_RUN_DEADLINE_S)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sources", help="which servers are up, with their models")
    p.add_argument("--json", action="store_true", help="print JSON (a stable interface)")
    p.add_argument("--limit", type=nonneg_int, default=20, metavar="N", help="models shown each")
    add_endpoint_args(p)
    add_timing_args(p)
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("quarantine", help="models skipped after repeated failures")
    p.add_argument("--json", action="store_true")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--clear", metavar="ID", help="lift this model's quarantine")
    g.add_argument("--clear-all", action="store_true", help="lift every quarantine")
    p.set_defaults(func=cmd_quarantine)


def _deadline(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0.0 < value <= MAX_DEADLINE_S:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_DEADLINE_S:g}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0.0 <= value <= 3600.0:
        raise argparse.ArgumentTypeError("must be from 0 to 3600 seconds")
    return value

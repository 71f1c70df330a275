"""The ``locallama`` command line: models, cost, route, simulate, bench.

Every command prints a readable answer, or with ``--json`` a stable JSON document (see the
README). Bad arguments and bad files give a one-line error and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from locallama_gui import __version__
from locallama_gui.core.cost import format_per_million, format_usd, project
from locallama_gui.core.models import Tier, Usage, decimal_str
from locallama_gui.core.routing import (
    CAPABILITIES,
    CATEGORIES,
    FreePreference,
    Priority,
    Task,
)
from locallama_gui.core.simulation import (
    Scenario,
    ScenarioError,
    generate_tasks,
    tasks_from_csv,
    tasks_from_jsonl,
)
from locallama_gui.core.tokens import estimate_tokens
from locallama_gui.services.catalogue import CatalogueLoadError, load_from_file
from locallama_gui.services.facade import Services, UnknownModel
from locallama_gui.services.views import estimate_view, model_view, skipped_view

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024


class CliError(Exception):
    """A problem to report in one line, with exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        self.exit(EXIT_USAGE, f"locallama: error: {message} (see --help)\n")


# --- argument types ------------------------------------------------------------------------


def _nonneg_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _pos_int(text: str) -> int:
    value = _nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected an amount in USD, got {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative amount, got {text!r}")
    return value


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date-time such as 2026-08-14T13:30Z, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- shared plumbing -----------------------------------------------------------------------


def _read_text_file(path: str, what: str) -> str:
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


def _services(args: argparse.Namespace) -> Services:
    from_file = getattr(args, "from_file", None)
    if from_file:
        try:
            catalogue = load_from_file(from_file)
        except CatalogueLoadError as e:
            raise CliError(str(e)) from None
        return Services.open(use_store=False, catalogue=catalogue)
    return Services.open()


def _notices(services: Services, args: argparse.Namespace) -> None:
    """Tell the user where the data comes from (stderr, so --json stays clean)."""
    if getattr(args, "quiet", False):
        return
    for notice in services.notices:
        print(f"note: {notice}", file=sys.stderr)


def _emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for k, cell in enumerate(row):
            widths[k] = max(widths[k], len(cell))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(lines)


def _price_cells(view: dict[str, Any], tier: str) -> tuple[str, str]:
    if tier in ("local", "free"):
        return "$0", "$0"
    if tier == "variable":
        return "variable", "variable"
    return (
        "$" + view.get("prompt_per_million_usd", "?"),
        "$" + view.get("completion_per_million_usd", "?"),
    )


# --- models ----------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    services = _services(args)
    _notices(services, args)
    models = list(services.models)
    tiers = set(args.tier or ())
    if args.free:
        tiers.add(Tier.FREE.value)
    if tiers:
        models = [m for m in models if m.tier.value in tiers]
    if args.source:
        models = [m for m in models if m.source.value in set(args.source)]
    if args.search:
        words = args.search.lower().split()
        models = [m for m in models if all(w in f"{m.id} {m.name}".lower() for w in words)]
    if args.min_context:
        models = [m for m in models if (m.context_length or 0) >= args.min_context]
    models.sort(key=lambda m: m.id)
    if args.json:
        _emit_json(
            {
                "models": [model_view(m) for m in models],
                "skipped": [skipped_view(s) for s in services.catalogue.skipped],
                "catalogue": services.catalogue.label,
            }
        )
        return EXIT_OK
    if not models:
        print("No models match these filters.")
        return EXIT_OK
    rows = []
    for m in models:
        view = model_view(m)
        inp, out = _price_cells(view, m.tier.value)
        ctx = f"{m.context_length:,}" if m.context_length else "?"
        rows.append((m.id, m.tier.value, m.source.value, ctx, inp, out))
    print(_table(rows, ("id", "tier", "source", "context", "$/1M in", "$/1M out")))
    skipped = services.catalogue.skipped
    print(f"\n{len(models)} models from {services.catalogue.label}.")
    if skipped:
        print(f"{len(skipped)} entries could not be read (see --json for why).")
    return EXIT_OK


# --- cost ------------------------------------------------------------------------------------


def cmd_cost(args: argparse.Namespace) -> int:
    services = _services(args)
    _notices(services, args)
    try:
        model = services.find_model(args.model)
    except UnknownModel as e:
        raise CliError(str(e)) from None
    token_method = "given"
    prompt_tokens = args.prompt_tokens
    if args.text:
        est = estimate_tokens(_read_text_file(args.text, "text file"), model.tokenizer)
        prompt_tokens, token_method = est.tokens, est.method
    if prompt_tokens is None:
        raise CliError("give --prompt-tokens N or --text FILE")
    usage = Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=args.completion_tokens,
        reasoning_tokens=min(args.reasoning_tokens, args.completion_tokens),
        cache_read_tokens=min(args.cached_tokens, prompt_tokens),
    )
    try:
        est = services.estimate(model.id, usage, args.at)
    except ValueError as e:
        raise CliError(str(e)) from None
    proj = project(est.total_usd, args.requests_per_day) if args.requests_per_day else None
    if args.json:
        view = estimate_view(est)
        view["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cached_tokens": usage.cache_read_tokens,
            "token_method": token_method,
        }
        view["at"] = args.at.isoformat() if args.at else None
        if proj is not None:
            view["projection"] = {
                "requests_per_day": args.requests_per_day,
                "per_day_usd": None if proj.per_day is None else decimal_str(proj.per_day),
                "per_month_usd": None if proj.per_month is None else decimal_str(proj.per_month),
            }
        _emit_json(view)
        return EXIT_OK
    print(f"{model.id} ({model.tier.value})")
    print(
        f"  {usage.prompt_tokens:,} prompt tokens ({token_method}), "
        f"{usage.completion_tokens:,} completion tokens"
    )
    if est.total_usd is None:
        print(f"  cost: unknown ({est.unknown_reason})")
    else:
        for key, amount in est.breakdown.items():
            print(f"  {key:<12} {format_usd(amount, 8)}")
        total = format_usd(est.total_usd, 8)
        print(f"  {'total':<12} {total}" + ("  (free model)" if est.is_free else ""))
    if est.free_limits is not None:
        lim = est.free_limits
        print(
            f"  free-tier limits: {lim.per_minute}/minute, {lim.per_day}/UTC day "
            f"({lim.per_day_with_credits} once 10 credits were bought)"
        )
    if est.applied_overrides:
        print(f"  special pricing applied (override entries {list(est.applied_overrides)})")
    if model.pricing is not None:
        for key in ("prompt", "completion"):
            price = est.effective_prices.get(key)
            if price is not None:
                print(f"  {key} price: {format_per_million(price)} per 1M tokens")
    if proj is not None:
        print(
            f"  at {args.requests_per_day:,} requests/day: {format_usd(proj.per_day, 4)}/day, "
            f"{format_usd(proj.per_month, 2)}/month (30 days)"
        )
    return EXIT_OK


# --- route -----------------------------------------------------------------------------------


def _task_from_args(args: argparse.Namespace, services: Services) -> Task:
    prompt = args.prompt
    if args.prompt_file:
        prompt = _read_text_file(args.prompt_file, "prompt file")
    if prompt is None and args.prompt_tokens is None:
        raise CliError("give --prompt TEXT, --prompt-file FILE or --prompt-tokens N")
    try:
        return Task(
            prompt=prompt,
            prompt_tokens=args.prompt_tokens,
            output_tokens=args.output_tokens,
            complexity=args.complexity,
            category=args.category,
            capabilities=frozenset(args.capability or ()),
            priority=Priority(args.priority) if args.priority else services.default_priority(),
        )
    except ValueError as e:
        raise CliError(str(e)) from None


def _policy_from_args(args: argparse.Namespace, services: Services):
    overrides: dict[str, Any] = {}
    if args.free:
        overrides["free_preference"] = FreePreference(args.free)
    if args.budget is not None:
        overrides["budget_usd"] = args.budget
    if args.no_paid:
        overrides["allow_paid"] = False
    if args.local_only:
        overrides["local_only"] = True
    if args.quality_floor is not None:
        overrides["quality_floor"] = args.quality_floor
    if args.depth is not None:
        overrides["fallback_depth"] = args.depth
    if getattr(args, "pin", None):
        overrides["pinned"] = args.pin
    if getattr(args, "allow", None):
        overrides["allow"] = tuple(args.allow)
    if getattr(args, "deny", None):
        overrides["deny"] = tuple(args.deny)
    try:
        return services.default_policy(**overrides)
    except ValueError as e:
        raise CliError(str(e)) from None


def cmd_route(args: argparse.Namespace) -> int:
    services = _services(args)
    _notices(services, args)
    task = _task_from_args(args, services)
    policy = _policy_from_args(args, services)
    decision = services.route(task, policy, record=not args.from_file)
    if args.json:
        out = decision.to_dict()
        out["catalogue"] = services.catalogue.label
        _emit_json(out)
        return EXIT_OK if decision.chosen is not None else EXIT_ERROR
    chosen = decision.chosen
    if chosen is None:
        print("No model can take this task.")
        for line in decision.why:
            print(f"  {line}")
        return EXIT_ERROR
    cost = decision.estimated_cost_usd
    flag = "  [BELOW THRESHOLD]" if decision.below_threshold else ""
    print(f"→ {chosen.id}  ({chosen.tier.value}, {format_usd(cost, 6)}){flag}")
    print()
    print("Why:")
    for line in decision.why:
        print(f"  - {line}")
    print()
    print("Chain:")
    for k, c in enumerate(decision.chain, 1):
        print(
            f"  {k}. {c.id:<48} {c.tier.value:<8} quality {c.quality:.2f}  "
            f"{format_usd(c.cost_usd, 6)}"
        )
    if args.verbose:
        print()
        print("Candidates (score = sum of factors):")
        for c in decision.candidates[: args.verbose_limit]:
            factors = ", ".join(f"{k} {v:+.3f}" for k, v in c.factors.items())
            print(f"  {c.id:<48} {c.score:.3f}  ({factors})")
        print()
        print("Rejected:")
        for r in decision.rejected[: args.verbose_limit]:
            print(f"  {r.model_id:<48} {r.text}")
    return EXIT_OK


# --- simulate --------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    services = _services(args)
    _notices(services, args)
    start = args.start or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        if args.tasks_file:
            text = _read_text_file(args.tasks_file, "tasks file")
            if args.tasks_file.lower().endswith(".csv"):
                tasks = tasks_from_csv(text, start, args.tasks_per_day)
            else:
                tasks = tasks_from_jsonl(text, start, args.tasks_per_day)
        else:
            tasks = generate_tasks(
                Scenario(
                    tasks=args.tasks,
                    tasks_per_day=args.tasks_per_day,
                    seed=args.seed,
                    start=start,
                    priority=Priority(args.priority) if args.priority else Priority.BALANCED,
                )
            )
    except ScenarioError as e:
        raise CliError(str(e)) from None
    policy = _policy_from_args(args, services)
    try:
        result = services.simulate(tasks, policy, baseline_id=args.baseline)
    except (UnknownModel, ScenarioError) as e:
        raise CliError(str(e).strip("'\"")) from None
    if args.json:
        out = result.to_dict(include_rows=args.rows)
        out["seed"] = args.seed
        out["tasks_per_day"] = args.tasks_per_day
        out["catalogue"] = services.catalogue.label
        _emit_json(out)
        return EXIT_OK
    print(f"Simulated {result.tasks:,} tasks at {args.tasks_per_day:,}/day (seed {args.seed}).")
    print(f"  total cost:       {format_usd(result.total_cost_usd, 4)}")
    if result.unknown_cost_tasks:
        print(f"  unknown cost:     {result.unknown_cost_tasks} tasks (variable-price routers)")
    if result.baseline_id:
        print(
            f"  always {result.baseline_id}: {format_usd(result.baseline_cost_usd, 4)}  "
            f"(savings {format_usd(result.savings_usd, 4)})"
        )
    share = result.tier_share()
    print("  share per tier:   " + ", ".join(f"{t} {v:.1%}" for t, v in sorted(share.items())))
    print(f"  below threshold:  {result.below_threshold}")
    if result.unroutable:
        print(f"  unroutable:       {result.unroutable}")
    if result.free_day_exhausted_at:
        first = result.free_day_exhausted_at[0].strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"  free quota ran out on {len(result.free_day_exhausted_at)} day(s), first at {first}"
        )
    top = sorted(result.model_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    print("  most used:        " + ", ".join(f"{m} ({n})" for m, n in top))
    return EXIT_OK


# --- bench -----------------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from locallama_gui.services.bench import run_bench

    figures = run_bench(quick=args.quick, progress=None if args.json else _bench_progress)
    if args.json:
        _emit_json(figures)
        return EXIT_OK
    for key, value in figures.items():
        print(f"{key:<28} {value}")
    return EXIT_OK


def _bench_progress(what: str) -> None:
    print(f"… {what}", file=sys.stderr)


# --- parser ----------------------------------------------------------------------------------


def _add_catalogue_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from-file",
        metavar="PATH",
        help="use a saved /models response (or Ollama /api/tags, LM Studio, /v1/models) "
        "instead of the stored catalogue",
    )
    p.add_argument("--json", action="store_true", help="print JSON (a stable interface)")
    p.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")


def _add_policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--free",
        choices=[f.value for f in FreePreference],
        help="free-model preference (default from settings: prefer)",
    )
    p.add_argument("--budget", type=_money, metavar="USD", help="budget per task in USD")
    p.add_argument("--no-paid", action="store_true", help="never use a paid model")
    p.add_argument("--local-only", action="store_true", help="local models only (privacy)")
    p.add_argument("--quality-floor", type=_fraction, metavar="Q", help="required quality 0..1")
    p.add_argument("--depth", type=_nonneg_int, metavar="N", help="fallback depth")
    p.add_argument(
        "--priority", choices=[p.value for p in Priority], help="cost, balanced, speed, quality"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="locallama",
        description="Which LLM to send a task to (local, free or paid), and what it will cost.",
    )
    parser.add_argument("--version", action="version", version=f"locallama {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("models", help="list the model catalogue")
    p.add_argument("--free", action="store_true", help="free models only")
    p.add_argument("--tier", action="append", choices=[t.value for t in Tier])
    p.add_argument(
        "--source",
        action="append",
        choices=["openrouter", "ollama", "lmstudio", "llamacpp", "vllm", "openai_compat"],
    )
    p.add_argument("--search", metavar="TEXT", help="words that must all appear in id or name")
    p.add_argument("--min-context", type=_nonneg_int, metavar="N")
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("cost", help="what one request costs on a model")
    p.add_argument("--model", required=True, metavar="ID")
    p.add_argument("--prompt-tokens", type=_nonneg_int, metavar="N")
    p.add_argument("--text", metavar="FILE", help="count the prompt tokens of a text file")
    p.add_argument("--completion-tokens", type=_nonneg_int, default=0, metavar="M")
    p.add_argument("--reasoning-tokens", type=_nonneg_int, default=0, metavar="R")
    p.add_argument("--cached-tokens", type=_nonneg_int, default=0, metavar="C")
    p.add_argument("--requests-per-day", type=_nonneg_int, metavar="N")
    p.add_argument("--at", type=_when, metavar="ISO", help="time for time-of-day prices")
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("route", help="which model a task should go to, and why")
    p.add_argument("--prompt", metavar="TEXT")
    p.add_argument("--prompt-file", metavar="FILE")
    p.add_argument("--prompt-tokens", type=_nonneg_int, metavar="N")
    p.add_argument("--output-tokens", type=_nonneg_int, default=512, metavar="M")
    p.add_argument("--complexity", type=_fraction, metavar="C", help="0..1 (estimated if absent)")
    p.add_argument("--category", default="chat", choices=CATEGORIES)
    p.add_argument("--capability", action="append", choices=CAPABILITIES)
    p.add_argument("--pin", metavar="ID", help="route with this model pinned")
    p.add_argument("--allow", action="append", metavar="PATTERN", help="only these ids (glob)")
    p.add_argument("--deny", action="append", metavar="PATTERN", help="never these ids (glob)")
    p.add_argument("-v", "--verbose", action="store_true", help="list candidates and rejections")
    p.add_argument("--verbose-limit", type=_pos_int, default=25, help=argparse.SUPPRESS)
    _add_policy_args(p)
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_route)

    p = sub.add_parser("simulate", help="route a batch of tasks over simulated days")
    p.add_argument("--tasks", type=_nonneg_int, default=1000, metavar="N")
    p.add_argument("--tasks-per-day", type=_pos_int, default=200, metavar="N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=_when, metavar="ISO", help="first simulated day (UTC)")
    p.add_argument("--tasks-file", metavar="FILE", help="JSONL or CSV tasks instead of a scenario")
    p.add_argument("--baseline", metavar="ID", help="paid model to compare against")
    p.add_argument("--rows", action="store_true", help="with --json: every task's route")
    _add_policy_args(p)
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("bench", help="speed figures of routing, costing and simulation")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="smaller runs (for a smoke check)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="locallama: %(levelname)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except CliError as e:
        print(f"locallama: error: {e}", file=sys.stderr)
        return EXIT_ERROR
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

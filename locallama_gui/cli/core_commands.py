"""``locallama models``, ``cost``, ``route``, ``simulate`` and ``bench``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from locallama_gui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    BadInputFile,
    CliError,
    emit_json,
    fraction,
    money,
    nonneg_int,
    open_services,
    pos_int,
    print_notices,
    read_text_file,
    table,
    when,
)
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
    TaskFileError,
    generate_tasks,
    tasks_from_csv,
    tasks_from_jsonl,
)
from locallama_gui.core.tokens import estimate_tokens, model_tokenizer
from locallama_gui.services import operations
from locallama_gui.services.facade import Services, UnknownModel
from locallama_gui.services.views import model_view
from locallama_gui.store.db import StoreError


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
    services = open_services(args)
    print_notices(services, args)
    filters = {
        "free_only": args.free,
        "tiers": args.tier,
        "sources": args.source,
        "search": args.search,
        "min_context": args.min_context,
    }
    try:
        models = operations.select_models(services, **filters)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        emit_json(operations.models_document(services, **filters))
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
    print(table(rows, ("id", "tier", "source", "context", "$/1M in", "$/1M out")))
    skipped = services.catalogue.skipped
    print(f"\n{len(models)} models from {services.catalogue.label}.")
    if skipped:
        print(f"{len(skipped)} entries could not be read (see --json for why).")
    return EXIT_OK


# --- cost ------------------------------------------------------------------------------------


def cmd_cost(args: argparse.Namespace) -> int:
    services = open_services(args)
    print_notices(services, args)
    try:
        model = services.find_model(args.model)
    except UnknownModel as e:
        raise CliError(str(e)) from None
    token_method = "given"
    prompt_tokens = args.prompt_tokens
    tokens_exact = True
    if args.text:
        est = estimate_tokens(read_text_file(args.text, "text file"), model_tokenizer(model))
        prompt_tokens, token_method, tokens_exact = est.tokens, est.method, est.exact
    if prompt_tokens is None:
        raise CliError("give --prompt-tokens N or --text FILE")
    usage = Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=args.completion_tokens,
        reasoning_tokens=min(args.reasoning_tokens, args.completion_tokens),
        cache_read_tokens=min(args.cached_tokens, prompt_tokens),
        images=args.images,
    )
    if args.json:
        try:
            emit_json(
                operations.cost_document(
                    services,
                    model.id,
                    usage,
                    at=args.at,
                    token_method=token_method,
                    requests_per_day=args.requests_per_day,
                )
            )
        except ValueError as e:
            raise CliError(str(e)) from None
        return EXIT_OK
    at = args.at or services.clock()
    try:
        est = services.estimate(model.id, usage, at)
    except ValueError as e:
        raise CliError(str(e)) from None
    proj = project(est.total_usd, args.requests_per_day) if args.requests_per_day else None
    print(f"{model.id} ({model.tier.value})")
    print(
        f"  {usage.prompt_tokens:,} prompt tokens ({token_method}), "
        f"{usage.completion_tokens:,} completion tokens"
        + (f", {usage.images} image{'s' if usage.images != 1 else ''}" if usage.images else "")
    )
    if est.total_usd is None:
        print(f"  cost: unknown ({est.unknown_reason})")
    else:
        approx = "" if tokens_exact or not est.total_usd else "≈ "  # from an estimated count
        for key, amount in est.breakdown.items():
            print(f"  {key:<12} {approx if amount else ''}{format_usd(amount, 8)}")
        total = approx + format_usd(est.total_usd, 8)
        print(f"  {'total':<12} {total}" + ("  (free model)" if est.is_free else ""))
    if est.free_limits is not None:
        lim = est.free_limits
        print(
            f"  free-tier limits: {lim.per_minute}/minute, {lim.per_day}/UTC day "
            f"({lim.per_day_with_credits} once 10 credits were bought)"
        )
    window = "" if args.at else " (now; --at picks another time)"
    print(f"  priced at {at:%Y-%m-%d %H:%M} UTC{window}")
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
        prompt = read_text_file(args.prompt_file, "prompt file")
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
            images=getattr(args, "images", 0),
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
    services = open_services(args)
    print_notices(services, args)
    task = _task_from_args(args, services)
    policy = _policy_from_args(args, services)
    if args.json:
        out = operations.route_document(services, task, policy, record=not args.from_file)
        emit_json(out)
        return EXIT_OK if out["chosen"] is not None else EXIT_ERROR
    decision = services.route(task, policy, record=not args.from_file)
    chosen = decision.chosen
    if chosen is None:
        print("No model can take this task.")
        for line in decision.why:
            print(f"  {line}")
        return EXIT_ERROR
    cost = decision.estimated_cost_usd
    flag = "  [BELOW THRESHOLD]" if decision.below_threshold else ""
    approx = "" if decision.resolved.tokens_exact else "≈ "  # the prompt's count is estimated
    print(
        f"→ {chosen.id}  ({chosen.tier.value}, {approx if cost else ''}{format_usd(cost, 6)}){flag}"
    )
    print()
    print("Why:")
    for line in decision.why:
        print(f"  - {line}")
    print()
    print("Chain:")
    for k, c in enumerate(decision.chain, 1):
        spread = f" ±{c.uncertainty:.2f}" if c.uncertainty >= 0.005 else "      "
        print(
            f"  {k}. {c.id:<48} {c.tier.value:<8} quality {c.quality:.2f}{spread} "
            f"({c.evidence})  {approx if c.cost_usd else ''}{format_usd(c.cost_usd, 6)}"
        )
    if args.verbose:
        print()
        print("Candidates (score = sum of factors):")
        for c in decision.candidates[: args.verbose_limit]:
            factors = ", ".join(f"{k} {v:+.3f}" for k, v in c.factors.items())
            print(
                f"  {c.id:<48} {c.score:.3f}  ({factors}); quality {c.quality:.2f}, at "
                f"least {c.quality_low:.2f} ({c.evidence})"
            )
        print()
        print("Rejected:")
        for r in decision.rejected[: args.verbose_limit]:
            print(f"  {r.model_id:<48} {r.text}")
    return EXIT_OK


# --- simulate --------------------------------------------------------------------------------


def _positive_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0 < days <= 36500:
        raise argparse.ArgumentTypeError("days must be above 0 (and at most 36500)")
    return days


def cmd_simulate(args: argparse.Namespace) -> int:
    # The tasks first: a file that is not in its format says so alone, on one line.
    start = args.start or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if args.recorded and args.tasks_file:
        raise CliError("give --recorded or --tasks-file, not both")
    recorded: tuple[int, int] | None = None  # (tasks, unreadable records)
    try:
        if args.recorded:
            tasks = []  # read below, from the store
        elif args.tasks_file:
            text = read_text_file(args.tasks_file, "tasks file")
            source = args.tasks_file
            if args.tasks_file.lower().endswith(".csv"):
                tasks = tasks_from_csv(text, start, args.tasks_per_day, source=source)
            else:
                tasks = tasks_from_jsonl(text, start, args.tasks_per_day, source=source)
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
    except TaskFileError as e:
        raise BadInputFile(str(e)) from None
    except ScenarioError as e:
        raise CliError(str(e)) from None
    services = open_services(args)
    print_notices(services, args)
    if args.recorded:
        if services.store is None:
            raise CliError("the route history is unavailable this session (see the note above)")
        try:
            tasks, unreadable = services.recorded_tasks(days=args.days)
        except StoreError as e:
            raise CliError(f"the route history could not be read: {e}") from None
        if not tasks:
            raise CliError(
                f"no tasks were routed in the last {args.days:g} days: run or route some first "
                "(locallama run, the gateway, the MCP server), or simulate a scenario"
            )
        recorded = (len(tasks), unreadable)
    policy = _policy_from_args(args, services)
    try:
        result = services.simulate(tasks, policy, baseline_id=args.baseline)
        # the same tasks with free requests spent first come, first served
        fcfs = (
            services.simulate(tasks, replace(policy, quota_aware=False), baseline_id=None)
            if policy.quota_aware and not args.no_compare
            else None
        )
    except (UnknownModel, ScenarioError) as e:
        raise CliError(str(e).strip("'\"")) from None
    fcfs_view = None
    if fcfs is not None:
        saving = fcfs.total_cost_usd - result.total_cost_usd
        fcfs_view = {
            "total_cost_usd": decimal_str(fcfs.total_cost_usd),
            "saving_usd": decimal_str(saving),
        }
    if args.json:
        out = result.to_dict(include_rows=args.rows)
        out["seed"] = None if recorded else args.seed
        out["tasks_per_day"] = None if recorded else args.tasks_per_day
        out["recorded"] = (
            None
            if recorded is None
            else {"days": args.days, "tasks": recorded[0], "unreadable": recorded[1]}
        )
        out["catalogue"] = services.catalogue.label
        out["first_come_first_served"] = fcfs_view
        emit_json(out)
        return EXIT_OK
    if recorded is not None:
        skipped = f"; {recorded[1]} unreadable records skipped" if recorded[1] else ""
        print(
            f"Simulated the {result.tasks:,} tasks routed in the last {args.days:g} days, at "
            f"their recorded times{skipped}."
        )
    else:
        print(f"Simulated {result.tasks:,} tasks at {args.tasks_per_day:,}/day (seed {args.seed}).")
    print(f"  total cost:       {format_usd(result.total_cost_usd, 4)}")
    if result.unknown_cost_tasks:
        print(f"  unknown cost:     {result.unknown_cost_tasks} tasks (variable-price routers)")
    if result.baseline_id:
        print(
            f"  always {result.baseline_id}: {format_usd(result.baseline_cost_usd, 4)}  "
            f"(savings {format_usd(result.savings_usd, 4)})"
        )
    if fcfs is not None:
        saving = fcfs.total_cost_usd - result.total_cost_usd
        print(
            f"  free requests first come, first served: {format_usd(fcfs.total_cost_usd, 4)} "
            f"(quota-aware saves {format_usd(saving, 4)})"
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
    from locallama_gui.gateway.bench import run_gateway_bench
    from locallama_gui.services.bench import run_bench

    progress = None if args.json else _bench_progress
    figures = run_bench(quick=args.quick, progress=progress, scaling=not args.no_scaling)
    figures.update(run_gateway_bench(quick=args.quick, progress=progress))
    if args.json:
        emit_json(figures)
        return EXIT_OK
    for key, value in figures.items():
        if isinstance(value, list):  # the scaling notes: one a line
            print(f"{key:<34} {'none' if not value else ''}".rstrip())
            for item in value:
                print(f"  - {item}")
        else:
            print(f"{key:<34} {value}")
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
    p.add_argument("--budget", type=money, metavar="USD", help="budget per task in USD")
    p.add_argument("--no-paid", action="store_true", help="never use a paid model")
    p.add_argument("--local-only", action="store_true", help="local models only (privacy)")
    p.add_argument("--quality-floor", type=fraction, metavar="Q", help="required quality 0..1")
    p.add_argument("--depth", type=nonneg_int, metavar="N", help="fallback depth")
    p.add_argument(
        "--priority", choices=[p.value for p in Priority], help="cost, balanced, speed, quality"
    )


MAX_SIMULATED_TASKS = 1_000_000


def _task_count(text: str) -> int:
    value = nonneg_int(text)
    if value > MAX_SIMULATED_TASKS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_SIMULATED_TASKS:,} tasks per run (got {value:,})"
        )
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the model catalogue")
    p.add_argument("--free", action="store_true", help="free models only")
    p.add_argument("--tier", action="append", choices=[t.value for t in Tier])
    p.add_argument(
        "--source",
        action="append",
        choices=["openrouter", "ollama", "lmstudio", "llamacpp", "vllm", "openai_compat"],
    )
    p.add_argument("--search", metavar="TEXT", help="words that must all appear in id or name")
    p.add_argument("--min-context", type=nonneg_int, metavar="N")
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("cost", help="what one request costs on a model")
    p.add_argument("--model", required=True, metavar="ID")
    p.add_argument("--prompt-tokens", type=nonneg_int, metavar="N")
    p.add_argument("--text", metavar="FILE", help="count the prompt tokens of a text file")
    p.add_argument("--completion-tokens", type=nonneg_int, default=0, metavar="M")
    p.add_argument("--reasoning-tokens", type=nonneg_int, default=0, metavar="R")
    p.add_argument(
        "--images", type=nonneg_int, default=0, metavar="N", help="images, billed per image"
    )
    p.add_argument("--cached-tokens", type=nonneg_int, default=0, metavar="C")
    p.add_argument("--requests-per-day", type=nonneg_int, metavar="N")
    p.add_argument("--at", type=when, metavar="ISO", help="time for time-of-day prices")
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("route", help="which model a task should go to, and why")
    p.add_argument("--prompt", metavar="TEXT")
    p.add_argument("--prompt-file", metavar="FILE")
    p.add_argument("--prompt-tokens", type=nonneg_int, metavar="N")
    p.add_argument("--output-tokens", type=nonneg_int, default=512, metavar="M")
    p.add_argument("--complexity", type=fraction, metavar="C", help="0..1 (estimated if absent)")
    p.add_argument("--category", default="chat", choices=CATEGORIES)
    p.add_argument("--capability", action="append", choices=CAPABILITIES)
    p.add_argument(
        "--images", type=nonneg_int, default=0, metavar="N", help="images sent with the prompt"
    )
    p.add_argument("--pin", metavar="ID", help="route with this model pinned")
    p.add_argument("--allow", action="append", metavar="PATTERN", help="only these ids (glob)")
    p.add_argument("--deny", action="append", metavar="PATTERN", help="never these ids (glob)")
    p.add_argument("-v", "--verbose", action="store_true", help="list candidates and rejections")
    p.add_argument("--verbose-limit", type=pos_int, default=25, help=argparse.SUPPRESS)
    _add_policy_args(p)
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_route)

    p = sub.add_parser("simulate", help="route a batch of tasks over simulated days")
    p.add_argument("--tasks", type=_task_count, default=1000, metavar="N")
    p.add_argument("--tasks-per-day", type=pos_int, default=200, metavar="N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=when, metavar="ISO", help="first simulated day (UTC)")
    p.add_argument("--tasks-file", metavar="FILE", help="JSONL or CSV tasks instead of a scenario")
    p.add_argument(
        "--recorded",
        action="store_true",
        help="the tasks routed in the last --days days (run, the gateway, the MCP server)",
    )
    p.add_argument(
        "--days", type=_positive_days, default=30.0, metavar="D", help="with --recorded (30)"
    )
    p.add_argument("--baseline", metavar="ID", help="paid model to compare against")
    p.add_argument("--rows", action="store_true", help="with --json: every task's route")
    p.add_argument(
        "--no-compare",
        action="store_true",
        help="skip the second run that spends free requests first come, first served",
    )
    _add_policy_args(p)
    _add_catalogue_args(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("bench", help="speed figures of routing, costing and simulation")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="smaller runs (for a smoke check)")
    p.add_argument(
        "--no-scaling",
        action="store_true",
        help="skip the scale_* figures (the catalogue at 10x and 100x, 10k to 1M simulated "
        "tasks): the long part of a full run",
    )
    p.set_defaults(func=cmd_bench)

"""``locallama benchmark``: run graded tasks on models and feed the results to routing.

``locallama benchmark --model ID [--model ID ...]`` runs the built-in suite (or ``--tasks
FILE.jsonl``, see ``core/benchmarks.py`` for the format; add ``--builtin`` to run both) on
each model, stores every sample, and prints quality per category, cost and latency per model,
and which categories now route differently. ``--list-tasks`` shows the tasks without running
them; ``--stale`` benchmarks the models whose newest results are older than ``--stale-days``.
Paid models are run only within ``--max-usd`` (default $0.50). Ctrl-C stops the run and
prints what was done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from locallama_gui.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    BadInputFile,
    CliError,
    emit_json,
    money,
    nonneg_int,
    read_text_file,
    table,
)
from locallama_gui.cli.live_commands import (
    NO_KEY_MESSAGE,
    add_endpoint_args,
    open_live,
)
from locallama_gui.core.benchmarks import (
    BENCH_CATEGORIES,
    BenchTask,
    TaskFormatError,
    builtin_suite,
    parse_task_lines,
    select_tasks,
)
from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import Source
from locallama_gui.services.benchmark import (
    DEFAULT_MAX_USD,
    BenchmarkOptions,
    BenchmarkProgress,
    BenchmarkReport,
    BenchmarkRunner,
    stale_model_ids,
)
from locallama_gui.services.facade import Services, UnknownModel
from locallama_gui.services.refresh import RefreshService


def _note(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"note: {text}", file=sys.stderr)


def load_tasks(args: argparse.Namespace) -> tuple[BenchTask, ...]:
    tasks: list[BenchTask] = []
    if not args.tasks or args.builtin:
        tasks.extend(builtin_suite())
    for path in args.tasks or ():
        text = read_text_file(path, "task file")
        try:
            tasks.extend(parse_task_lines(text, source=path))
        except TaskFormatError as e:
            more = f" (and {len(e.errors) - 10} more)" if len(e.errors) > 10 else ""
            raise BadInputFile("; ".join(e.errors[:10]) + more) from None
    seen: set[str] = set()
    for t in tasks:
        if t.id in seen:
            raise CliError(f"task id {t.id!r} is used twice; ids must be unique across files")
        seen.add(t.id)
    chosen = select_tasks(tasks, args.category, args.task)
    if args.task:
        missing = sorted(set(args.task) - {t.id for t in chosen})
        if missing:
            raise CliError(f"no task {', '.join(missing)} (see --list-tasks)")
    if not chosen:
        raise CliError("no task matches (see --list-tasks)")
    return chosen


def _list_tasks(args: argparse.Namespace, tasks: tuple[BenchTask, ...]) -> int:
    if args.json:
        emit_json({"tasks": [t.to_dict() for t in tasks]})
        return EXIT_OK
    rows = [
        (t.id, t.category, t.kind, str(t.check_count), f"{len(t.prompt):,}", t.origin)
        for t in tasks
    ]
    print(table(rows, ("task", "category", "kind", "checks", "prompt chars", "from")))
    return EXIT_OK


def _pct(q: float | None) -> str:
    return "-" if q is None else f"{q * 100:.0f}%"


def _print_report(report: BenchmarkReport) -> None:
    cats = list(report.categories)
    rows = []
    summaries = {s.model_id: s for s in report.summaries}
    for m in report.models:
        row = [m, *(_pct(report.matrix[m].get(c)) for c in cats), _pct(summaries[m].quality)]
        rows.append(row)
    print("Quality (share of checks passed):")
    print(table(rows, ("model", *cats, "overall")))
    print()
    rows = []
    for s in report.summaries:
        cost = format_usd(s.cost_usd, 6)
        if s.unknown_costs:
            cost += f" (+{s.unknown_costs} unknown)"
        rows.append(
            (
                s.model_id,
                s.tier,
                str(s.graded),
                str(s.failed),
                str(s.skipped),
                cost,
                "-" if s.latency_ms is None else f"{s.latency_ms:,.0f} ms",
                "-" if s.tokens_per_s is None else f"{s.tokens_per_s:.1f}",
            )
        )
    print(table(rows, ("model", "tier", "graded", "failed", "skipped", "cost", "latency", "tok/s")))
    print()
    if report.changes:
        print("Routing changed:")
        for c in report.changes:
            print(f"  {c.category}: {c.before or 'none'} -> {c.after or 'none'}")
    else:
        print("Routing: no category changed its choice.")
    for stop in report.stops:
        print(f"Stopped: {stop}")
    for note in report.notes:
        print(f"Note: {note}")
    failed = [r for r in report.results if r.outcome in ("failed", "skipped") and r.error]
    for r in failed[:10]:
        print(f"  {r.model_id} / {r.task_id}: {r.outcome}: {r.error}")
    if len(failed) > 10:
        print(f"  … {len(failed) - 10} more (--json for all)")
    if report.cancelled:
        print("Cancelled: the results above are what finished.")


async def _run(
    services: Services, args: argparse.Namespace, tasks: tuple[BenchTask, ...]
) -> BenchmarkReport:
    async with open_live(args, services) as live:
        if args.refresh:
            refreshed = await RefreshService(live).refresh()
            for s in refreshed.failed:
                _note(args, f"{s.kind} at {s.url} is down: {s.error}")
        if args.stale:
            models = stale_model_ids(services, max_age_days=args.stale_days)
            models = list(dict.fromkeys([*models, *(args.model or ())]))
            if not models:
                raise CliError(f"no model has results older than {args.stale_days:g} days")
            _note(args, f"re-running stale models: {', '.join(models)}")
        else:
            models = list(args.model or ())
        try:
            found = [services.find_model(m) for m in models]
        except UnknownModel as e:
            raise CliError(f"{e} (run 'locallama refresh' to update the catalogue)") from None
        if live.api_key is None and any(m.source is Source.OPENROUTER for m in found):
            raise CliError(NO_KEY_MESSAGE)
        options = BenchmarkOptions(
            max_usd=args.max_usd,
            free_reserve=args.free_reserve,
        )
        runner = BenchmarkRunner(live, options=options)
        show = not args.json and not args.quiet

        def progress(p: BenchmarkProgress) -> None:
            if show:
                q = "" if p.quality is None else f" quality {_pct(p.quality)}"
                print(
                    f"[{p.done}/{p.total}] {p.model_id} {p.task_id}: {p.outcome}{q}",
                    file=sys.stderr,
                )

        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, runner.cancel)
        try:
            return await runner.run([m.id for m in found], tasks, progress=progress)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)


def cmd_benchmark(args: argparse.Namespace) -> int:
    tasks = load_tasks(args)
    if args.list_tasks:
        return _list_tasks(args, tasks)
    if not args.model and not args.stale:
        raise CliError("name the models: --model ID (repeat for several), or --stale")
    if args.max_usd is None:
        args.max_usd = DEFAULT_MAX_USD
        if not args.json:
            _note(args, f"paid models are capped at {format_usd(DEFAULT_MAX_USD, 2)} (--max-usd)")
    services = Services.open()
    try:
        for notice in services.notices:
            if notice != services.catalogue.notice:
                _note(args, notice)
        report = asyncio.run(_run(services, args, tasks))
    finally:
        services.close()
    if args.json:
        emit_json(report.to_dict())
    else:
        _print_report(report)
    if report.cancelled:
        return 130
    return EXIT_OK if report.samples_stored or not report.results else EXIT_ERROR


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="run graded tasks on models; the results feed routing",
        description="Run the built-in benchmark suite (or your JSONL tasks) on models, grade "
        "every answer by checks, and store the results that routing learns from.",
    )
    p.add_argument("--model", action="append", metavar="ID", help="a model (repeat for several)")
    p.add_argument(
        "--tasks",
        action="append",
        metavar="FILE.jsonl",
        help="your tasks (one JSON object per line); replaces the built-in suite unless "
        "--builtin is given",
    )
    p.add_argument("--builtin", action="store_true", help="with --tasks: run the built-in too")
    p.add_argument("--category", action="append", choices=BENCH_CATEGORIES, help="only these")
    p.add_argument("--task", action="append", metavar="ID", help="only these task ids")
    p.add_argument("--max-usd", type=money, metavar="X", help="spending cap for paid models")
    p.add_argument(
        "--free-reserve",
        type=nonneg_int,
        default=0,
        metavar="N",
        help="free-model requests of the day to leave unused",
    )
    p.add_argument("--list-tasks", action="store_true", help="show the tasks and exit")
    p.add_argument("--stale", action="store_true", help="re-run models whose results are old")
    p.add_argument("--stale-days", type=float, default=30.0, metavar="D", help="default 30")
    p.add_argument("--refresh", action="store_true", help="refresh the catalogue first")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    add_endpoint_args(p)
    p.set_defaults(func=cmd_benchmark)

"""``locallama evaluate``: replay the routing policy on recorded outcomes, offline."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from locallama_gui.cli.common import (
    EXIT_OK,
    BadInputFile,
    CliError,
    emit_json,
    open_services,
    pos_int,
    print_notices,
    table,
)
from locallama_gui.core.cost import format_usd
from locallama_gui.core.evaluation import DEFAULT_FOLDS
from locallama_gui.services.evaluate import (
    EvaluationInputError,
    OutcomeFileFormatError,
    evaluate_files,
    report_view,
)

#: Curve rows printed without --json.
CURVE_ROWS = 11


def _folds(text: str) -> int:
    value = pos_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("cross-validation needs at least 2 folds")
    return value


def _pct(x: float | None) -> str:
    return "never" if x is None else f"{x * 100:.1f}%"


def _num(x: float | None, places: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{places}f}"


def _usd(text: str | None) -> str:
    return format_usd(None if text is None else Decimal(text), 4)


def _print_report(view: dict[str, Any]) -> None:
    print(
        f"Replayed {view['prompts']} prompts, {view['folds']}-fold cross-validation "
        f"(seed {view['seed']})."
    )
    print(f"weak: {view['weak']}    strong: {view['strong']}")
    cats = view["categories"]
    if any(cats):
        print("categories: " + ", ".join(f"{c or '(none)'} {n}" for c, n in cats.items()))
    print()
    rows = [
        (name, _num(v["apgr"]), _pct(v["cpt50"]), _pct(v["cpt80"]), _num(v["aiq"], 4))
        for name, v in (("router", view), ("random", view["random"]), ("oracle", view["oracle"]))
    ]
    print(table(rows, ("", "APGR", "CPT(50%)", "CPT(80%)", "AIQ")))
    print()
    rows = [
        (m["id"], m["role"], _num(m["quality"]), _usd(m["cost_usd"]), m["price"])
        for m in view["models"]
    ]
    print(table(rows, ("model", "role", "quality", "cost (all prompts)", "price")))
    curve = view["curve"]
    if curve:
        step = max(1, (len(curve) - 1) // (CURVE_ROWS - 1))
        shown = curve[::step]
        if shown[-1] is not curve[-1]:
            shown.append(curve[-1])
        print()
        rows = [
            (
                _num(p["threshold"], 4),
                _pct(p["strong_share"]),
                _num(p["quality"]),
                _usd(p["cost_usd"]),
            )
            for p in shown
        ]
        print(table(rows, ("threshold", "to strong", "quality", "cost")))
    print(
        "\nAPGR: performance gap recovered, averaged over the share of strong calls "
        "(random ~0.5). CPT(x%): strong calls needed to recover x% of the gap. AIQ: area "
        "under the cost-quality hull, over the single models' cost range."
    )
    for note in view["notes"]:
        print(f"note: {note}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    services = open_services(args)
    try:
        print_notices(services, args)
        try:
            report = evaluate_files(
                args.outcomes,
                services.models,
                categories=args.category or (),
                folds=args.folds,
                weak=args.weak,
                strong=args.strong,
                seed=args.seed,
            )
        except OutcomeFileFormatError as e:
            raise BadInputFile(str(e)) from None
        except EvaluationInputError as e:
            raise CliError(str(e)) from None
    finally:
        services.close()
    view = report_view(report)
    if args.json:
        emit_json(view)
    else:
        _print_report(view)
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="replay the routing policy on recorded outcomes (APGR, CPT, AIQ)",
        description="Replay the routing policy on recorded per-prompt outcomes with k-fold "
        "cross-validation, against a random router and the oracle.",
    )
    p.add_argument(
        "--outcomes",
        required=True,
        nargs="+",
        action="extend",
        metavar="FILE",
        help="JSONL outcomes, a wide CSV (prompt, category, one score column per model), or "
        "MT-Bench judgements together with their questions file",
    )
    p.add_argument(
        "--category",
        action="append",
        metavar="NAME",
        help="category of prompts that have none: once for all files, or once per file",
    )
    p.add_argument("--folds", type=_folds, default=DEFAULT_FOLDS, metavar="K")
    p.add_argument("--weak", metavar="ID", help="the weak model (default: the cheapest)")
    p.add_argument("--strong", metavar="ID", help="the strong model (default: the best)")
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and random router")
    p.add_argument(
        "--from-file",
        metavar="PATH",
        help="price with a saved /models response instead of the stored catalogue",
    )
    p.add_argument("--json", action="store_true", help="print JSON (a stable interface)")
    p.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    p.set_defaults(func=cmd_evaluate)

"""Build the bundled OpenRouter catalogue snapshot from a saved ``GET /models`` response.

    python packaging/build_snapshot.py [SRC.json] [OUT.json] [--date YYYY-MM-DD]

The snapshot keeps facts only (ids, names, prices, context lengths, modalities, parameters,
dates, benchmark figures), never descriptions. The output is deterministic: models sorted
by id, keys sorted, one model per line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(REPO))

from locallama_gui.core.catalogue import (  # noqa: E402
    parse_openrouter_models,
    snapshot_payload,
)

DEFAULT_SRC = REPO.parent / "shared" / "data" / "openrouter" / "models-2026-08-14.json"
DEFAULT_OUT = REPO / "resources" / "openrouter-snapshot.json"
_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def date_from_name(path: Path) -> str | None:
    """The ISO date a capture's file name carries (``models-2026-08-14.json``), if any."""
    match = _DATE_RE.search(path.name)
    return match.group(1) if match else None


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render_snapshot(snapshot: dict[str, Any]) -> str:
    """Deterministic JSON text: top-level keys sorted, one model per line."""
    head = {k: v for k, v in snapshot.items() if k != "models"}
    parts = [f"{_compact(k)}:{_compact(v)}" for k, v in sorted(head.items())]
    models = ",\n".join(_compact(m) for m in snapshot["models"])
    parts.append(f'"models":[\n{models}\n]')
    return "{\n" + ",\n".join(sorted(parts)) + "\n}\n"


def build(src: Path, fetched_at: str | None) -> tuple[str, int, int]:
    """Snapshot text for ``src``, with the number of models kept and entries skipped."""
    payload = json.loads(src.read_text(encoding="utf-8"))
    result = parse_openrouter_models(payload)
    text = render_snapshot(snapshot_payload(result.models, fetched_at))
    return text, len(result.models), len(result.skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC)
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--date", help="fetch date (YYYY-MM-DD) when the file name has none")
    args = parser.parse_args(argv)

    fetched_at = args.date or date_from_name(args.src)
    if fetched_at is None:
        parser.error("the source file name carries no date: pass --date YYYY-MM-DD")
    if not _DATE_RE.fullmatch(fetched_at):
        parser.error(f"not an ISO date: {fetched_at!r}")

    text, kept, skipped = build(args.src, fetched_at)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8", newline="\n")
    print(f"{args.out}: {kept} models, {skipped} skipped, {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

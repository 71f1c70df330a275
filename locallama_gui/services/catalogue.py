"""Where the catalogue comes from: the store, the bundled snapshot, or a saved response.

First run with no network, no key and an empty store: the bundled snapshot, clearly marked
with its date. Later: the newest stored catalogue of each source, merged.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from locallama_gui import assets
from locallama_gui.core.catalogue import (
    CatalogueFormatError,
    merge_sources,
    parse_models_payload,
    parse_snapshot,
)
from locallama_gui.core.models import ModelInfo, Skipped, Source
from locallama_gui.store.db import Store

log = logging.getLogger(__name__)

SNAPSHOT_RESOURCE = "openrouter-snapshot.json"
#: A saved ``/models`` response larger than this is refused rather than read into memory.
MAX_FILE_BYTES = 256 * 1024 * 1024


class CatalogueLoadError(Exception):
    """A catalogue that cannot be loaded; the message says what to do."""


@dataclass(frozen=True, slots=True)
class LoadedCatalogue:
    models: tuple[ModelInfo, ...]
    skipped: tuple[Skipped, ...]
    origin: str  # "store", "snapshot" or "file"
    label: str  # where it came from, for people: "bundled snapshot of 2026-08-14"
    fetched_at: datetime | None = None
    notice: str | None = None  # something the user should be told (offline, recovered, ...)

    @property
    def is_snapshot(self) -> bool:
        return self.origin == "snapshot"


@functools.cache
def bundled_benchmarked_models() -> tuple[ModelInfo, ...]:
    """The bundled snapshot's benchmarked models: what quality estimates are fitted on when
    the catalogue in use has too few benchmarks of its own (an old or a local-only one)."""
    try:
        models = load_snapshot().models
    except CatalogueLoadError:
        return ()
    return tuple(m for m in models if m.benchmarks is not None)


def load_snapshot() -> LoadedCatalogue:
    """The OpenRouter catalogue shipped with the app."""
    try:
        payload = json.loads(assets.read_text(SNAPSHOT_RESOURCE))
        result, fetched = parse_snapshot(payload)
    except (assets.MissingResource, ValueError) as e:
        raise CatalogueLoadError(
            f"The bundled catalogue snapshot cannot be read ({e}); reinstall the app."
        ) from None
    when = None
    if fetched:
        try:
            when = datetime.fromisoformat(fetched)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        except ValueError:
            when = None
    date = fetched or "unknown date"
    return LoadedCatalogue(
        models=result.models,
        skipped=result.skipped,
        origin="snapshot",
        label=f"bundled snapshot of {date}",
        fetched_at=when,
        notice=(
            f"Offline catalogue: the bundled OpenRouter snapshot of {date}. Refresh to get "
            "live prices and models."
        ),
    )


def load_from_file(path: str | Path) -> LoadedCatalogue:
    """A saved ``/models`` (or Ollama ``/api/tags``, LM Studio, ``/v1/models``) response."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise CatalogueLoadError(f"{p}: no such file") from None
    except OSError as e:
        raise CatalogueLoadError(f"{p}: cannot read it ({e.strerror or e})") from None
    if p.is_dir():
        raise CatalogueLoadError(f"{p}: is a folder, not a saved models response")
    if size > MAX_FILE_BYTES:
        raise CatalogueLoadError(
            f"{p}: {size // (1024 * 1024)} MiB is larger than any models response "
            f"(limit {MAX_FILE_BYTES // (1024 * 1024)} MiB)"
        )
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogueLoadError(f"{p}: not a text file (expected JSON)") from None
    except OSError as e:
        raise CatalogueLoadError(f"{p}: cannot read it ({e.strerror or e})") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as e:
        raise CatalogueLoadError(
            f"{p}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None
    try:
        result = parse_models_payload(payload)
    except CatalogueFormatError as e:
        raise CatalogueLoadError(f"{p}: {e}") from None
    if not result.models and result.skipped:
        raise CatalogueLoadError(
            f"{p}: none of its {len(result.skipped)} entries could be read "
            f"(first problem: {result.skipped[0].reason})"
        )
    return LoadedCatalogue(
        models=result.models,
        skipped=result.skipped,
        origin="file",
        label=f"file {p.name}",
    )


def load_catalogue(store: Store | None) -> LoadedCatalogue:
    """The newest stored catalogue of every source, or the bundled snapshot."""
    models: list[ModelInfo] = []
    newest: datetime | None = None
    sources: list[str] = []
    if store is not None:
        for source in Source:
            try:
                found = store.latest_catalogue(source.value)
            except Exception as e:  # a damaged snapshot row must not stop the app
                log.warning("stored %s catalogue unreadable: %s", source.value, e)
                continue
            if not found:
                continue
            stored, fetched_at, _ = found
            sources.append(source.value)
            models.extend(stored)
            if newest is None or fetched_at > newest:
                newest = fetched_at
    has_openrouter = "openrouter" in sources
    if not has_openrouter:
        snap = load_snapshot()
        models.extend(snap.models)
        if not sources:
            return snap
        return LoadedCatalogue(
            models=tuple(merge_sources(models)),
            skipped=snap.skipped,
            origin="store",
            label=f"stored local models + {snap.label}",
            fetched_at=newest,
            notice=snap.notice,
        )
    when = newest.strftime("%Y-%m-%d %H:%M UTC") if newest else "unknown time"
    return LoadedCatalogue(
        models=tuple(merge_sources(models)),
        skipped=(),
        origin="store",
        label=f"stored catalogue of {when}",
        fetched_at=newest,
    )

"""Refresh the catalogue from every enabled source at once.

One refresh is in flight at a time: a second request joins the running one. A source that
fails keeps its last good models (from the store, else from the current catalogue) and says
why. An answer whose entries cannot all be read keeps the last good record of each unreadable
entry (:func:`keep_unreadable`), so a malformed entry is counted as unreadable, never reported
as removed, repriced or a free variant ended. Every source that answered is stored as a
snapshot with its diff against the previous one; the merged catalogue replaces the services'
catalogue, and the refresh reports the diff of the whole catalogue (added, removed, repriced,
free variants ended).

Asking the sources ends within one deadline (default 15 s, ``services.deadline``): a source
that holds the first byte is stopped there and reported as such ("stopped after 15 s:
OpenRouter did not answer"); the others' answers are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from locallama_gui.core.catalogue import CatalogueDiff, diff_catalogues, merge_sources
from locallama_gui.core.models import ModelInfo, Skipped, Source
from locallama_gui.services.catalogue import LoadedCatalogue, load_snapshot
from locallama_gui.services.deadline import DEFAULT_FETCH_DEADLINE_S
from locallama_gui.services.live import (
    Endpoint,
    LiveServices,
    Progress,
    SourceStatus,
    deadline_summary,
    endpoint_kind,
    normalise_url,
)
from locallama_gui.store.db import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What a refresh found: per-source status, the merged catalogue and what changed."""

    sources: tuple[SourceStatus, ...]
    catalogue: LoadedCatalogue
    diff: CatalogueDiff
    fetched_at: datetime
    duration_ms: float
    saved_sources: tuple[str, ...] = ()  # sources whose snapshot was stored
    deadline_s: float | None = None  # the deadline the sources were asked within

    @property
    def any_up(self) -> bool:
        return any(s.up for s in self.sources)

    @property
    def stopped(self) -> str | None:
        """``stopped after 15 s: OpenRouter did not answer`` when the deadline stopped a
        source, else None."""
        return deadline_summary(self.sources, self.deadline_s)

    @property
    def failed(self) -> tuple[SourceStatus, ...]:
        return tuple(s for s in self.sources if not s.up)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fetched_at": self.fetched_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1),
            "catalogue": self.catalogue.label,
            "model_count": len(self.catalogue.models),
            "sources": [
                {
                    **s.to_dict(include_models=False),
                    "model_count": s.model_count,
                    "kept_previous": s.kept_previous,
                    "unreadable": s.unreadable,
                    "kept_unreadable": s.kept_unreadable,
                    "unreadable_entries": [
                        {"id": k.id, "index": k.index, "reason": k.reason} for k in s.skipped
                    ],
                    "duration_ms": round(s.duration_ms, 1),
                }
                for s in self.sources
            ],
            "diff": self.diff.as_dict(),
            "saved_sources": list(self.saved_sources),
            "deadline_s": self.deadline_s,
            "stopped": self.stopped,
        }


def _belongs(model: ModelInfo, endpoint: Endpoint) -> bool:
    """Whether ``model`` (from an earlier catalogue) was served by ``endpoint``."""
    if endpoint.kind is Source.OPENROUTER:
        return model.source is Source.OPENROUTER
    if endpoint_kind(model.source) is not endpoint.kind:
        return False
    url = model.local.server_url if model.local is not None else None
    return url is not None and normalise_url(url) == normalise_url(endpoint.url)


def keep_unreadable(
    before: Sequence[ModelInfo], fresh: Sequence[ModelInfo], skipped: Sequence[Skipped]
) -> list[ModelInfo]:
    """The last good records to keep for the entries of an answer that could not be read.

    An unreadable entry with an id keeps that model's last good record. Entries without a
    readable id cannot be matched: when there are at least as many of them as models that
    went missing from the answer, the missing ones may be exactly those entries, so all are
    kept until a clean answer says otherwise; when more went missing, they really left.
    """
    fresh_ids = {m.id for m in fresh}
    previous = {m.id: m for m in before if m.id not in fresh_ids}
    kept: dict[str, ModelInfo] = {}
    anonymous = 0
    for entry in skipped:
        if entry.id is None:
            anonymous += 1
        elif entry.id in previous:
            kept.setdefault(entry.id, previous[entry.id])
    missing = [m for model_id, m in previous.items() if model_id not in kept]
    if anonymous and len(missing) <= anonymous:
        for m in missing:
            kept[m.id] = m
    return list(kept.values())


class RefreshService:
    """Single-flight catalogue refresh over a :class:`LiveServices`; the sources are asked
    within ``deadline_s`` (None: only each request's own timeouts)."""

    def __init__(
        self, live: LiveServices, *, deadline_s: float | None = DEFAULT_FETCH_DEADLINE_S
    ) -> None:
        self.live = live
        self.deadline_s = deadline_s
        self.services = live.services
        self._task: asyncio.Task[RefreshResult] | None = None
        self._progress: list[Progress] = []
        self._waiters = 0
        self.last_result: RefreshResult | None = None

    @property
    def in_flight(self) -> bool:
        return self._task is not None and not self._task.done()

    async def refresh(self, progress: Progress | None = None) -> RefreshResult:
        """Refresh now, or join the refresh already running.

        ``progress(done, total)`` is called as each source answers. Cancelling the last
        caller still waiting cancels the refresh itself; :meth:`cancel` cancels it for all.
        """
        if self._task is None or self._task.done():
            self._progress = []
            self._task = asyncio.create_task(self._run(), name="locallama-refresh")
        if progress is not None:
            self._progress.append(progress)
        task = self._task
        self._waiters += 1
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done() and self._waiters == 1:
                # once only: a second cancel lands in httpx's clean-up of the first and leaves
                # the connection of a hung request open (see :meth:`cancel`)
                if not task.cancelling():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            raise
        finally:
            self._waiters -= 1

    def cancel(self) -> bool:
        """Cancel the refresh in flight (every caller gets ``CancelledError``).

        The task is cancelled once: cancelling it again while the first cancellation unwinds
        would interrupt httpx closing the request, and a hung server's connection would stay
        open (the window's Cancel both cancels the refresh and the job waiting on it)."""
        if self.in_flight:
            assert self._task is not None
            if not self._task.cancelling():
                self._task.cancel()
            return True
        return False

    def _report(self, done: int, total: int) -> None:
        for callback in list(self._progress):
            try:
                callback(done, total)
            except Exception:  # a broken progress display must not stop the refresh
                log.exception("refresh progress callback failed")

    # --- the refresh itself ---------------------------------------------------------------

    async def _run(self) -> RefreshResult:
        started = time.monotonic()
        services = self.services
        fetched_at = services.clock()
        previous = services.catalogue
        deadline_s = self.deadline_s
        statuses = await self.live.fetch_all(self._report, deadline_s=deadline_s)
        # Merging, diffing and storing thousands of models is CPU and disk work: it runs in a
        # worker thread, so the event loop (the GUI thread, in the app) stays responsive.
        final_statuses, catalogue, diff, saved = await asyncio.to_thread(
            self._assemble, statuses, previous, fetched_at
        )
        services.set_catalogue(catalogue)
        result = RefreshResult(
            sources=tuple(final_statuses),
            catalogue=catalogue,
            diff=diff,
            fetched_at=fetched_at,
            duration_ms=(time.monotonic() - started) * 1000,
            saved_sources=saved,
            deadline_s=deadline_s,
        )
        self.last_result = result
        return result

    def _assemble(
        self,
        statuses: Sequence[SourceStatus],
        previous: LoadedCatalogue,
        fetched_at: datetime,
    ) -> tuple[list[SourceStatus], LoadedCatalogue, CatalogueDiff, tuple[str, ...]]:
        """The merged catalogue, its diff, and the stored snapshots (in a worker thread)."""
        services = self.services
        stored, stored_at = self._stored_by_source()

        def last_good(source: Source) -> list[ModelInfo]:
            if source in stored:
                return stored[source]
            return [m for m in previous.models if m.source is source]

        # Per endpoint: the fresh models, or the last good ones of a failing endpoint.
        per_endpoint: list[tuple[SourceStatus, list[ModelInfo]]] = []
        final_statuses: list[SourceStatus] = []
        skipped: list[Skipped] = []
        for ep, status in zip(self.live.endpoints, statuses, strict=True):
            candidates = (
                [Source.OPENROUTER]
                if ep.kind is Source.OPENROUTER
                else [s for s in Source if s.is_local and endpoint_kind(s) is ep.kind]
            )
            if status.up:
                models = list(status.models)
                skipped.extend(status.skipped)
                if status.skipped:
                    before = [m for src in candidates for m in last_good(src) if _belongs(m, ep)]
                    kept = keep_unreadable(before, models, status.skipped)
                    models += kept
                    status = dataclasses.replace(status, kept_unreadable=len(kept))
            else:
                models = [m for src in candidates for m in last_good(src) if _belongs(m, ep)]
                status = dataclasses.replace(status, kept_previous=len(models))
            per_endpoint.append((status, models))
            final_statuses.append(status)

        # Every source that answered somewhere is stored whole: fresh models plus the last
        # good models of its endpoints that failed this time.
        fresh_sources = {m.source for st, ms in per_endpoint if st.up for m in ms}
        fresh_sources |= {Source(st.kind) for st, _ in per_endpoint if st.up}
        by_source: dict[Source, list[ModelInfo]] = {}
        for _, models in per_endpoint:
            for m in models:
                by_source.setdefault(m.source, []).append(m)
        snapshots = []
        for source in sorted(fresh_sources, key=lambda s: s.value):
            new = by_source.get(source, [])
            diff = diff_catalogues(last_good(source), new)
            snapshots.append((source.value, new, diff.as_dict()))
        saved: tuple[str, ...] = ()
        if services.store is not None and snapshots:
            saved = self._save(fetched_at, snapshots)

        merged_parts: list[ModelInfo] = []
        openrouter_status = next(
            (st for st, _ in per_endpoint if st.kind == Source.OPENROUTER.value), None
        )
        for _, models in per_endpoint:
            merged_parts.extend(models)
        label = f"refreshed catalogue of {fetched_at:%Y-%m-%d %H:%M} UTC"
        notice = None
        origin = "store"
        has_openrouter = any(m.source is Source.OPENROUTER for m in merged_parts)
        if openrouter_status is not None and not openrouter_status.up and has_openrouter:
            # OpenRouter did not answer: its part is the last good one, and the label says when
            # that was (never "refreshed" now)
            when = stored_at.get(Source.OPENROUTER)
            dated = f"of {when:%Y-%m-%d %H:%M} UTC" if when else "kept from before"
            label = (
                f"stored OpenRouter catalogue {dated} (OpenRouter did not answer at "
                f"{fetched_at:%H:%M} UTC)"
            )
        if openrouter_status is not None and not has_openrouter:
            snap = load_snapshot()
            merged_parts.extend(snap.models)
            label = f"local models of {fetched_at:%Y-%m-%d %H:%M} UTC + {snap.label}"
            notice = snap.notice
        catalogue = LoadedCatalogue(
            models=tuple(merge_sources(merged_parts)),
            skipped=tuple(skipped),
            origin=origin,
            label=label,
            fetched_at=fetched_at,
            notice=notice,
        )
        diff = diff_catalogues(previous.models, catalogue.models)
        return final_statuses, catalogue, diff, saved

    def _stored_by_source(self) -> tuple[dict[Source, list[ModelInfo]], dict[Source, datetime]]:
        """The last good models of each source, and when they were fetched."""
        store = self.services.store
        out: dict[Source, list[ModelInfo]] = {}
        when: dict[Source, datetime] = {}
        if store is None:
            return out, when
        for source in Source:
            try:
                found = store.latest_catalogue(source.value)
            except (StoreError, ValueError) as e:
                log.warning("stored %s catalogue unreadable: %s", source.value, e)
                continue
            if found is not None:
                out[source] = list(found[0])
                when[source] = found[1]
        return out, when

    def _save(
        self, fetched_at: datetime, snapshots: Sequence[tuple[str, list[ModelInfo], dict]]
    ) -> tuple[str, ...]:
        store = self.services.store
        assert store is not None
        saved = []
        for source, models, diff in snapshots:
            try:
                store.save_catalogue(source, fetched_at, models, diff)
            except StoreError as e:
                log.warning("%s catalogue not saved: %s", source, e)
                continue
            saved.append(source)
        return tuple(saved)

    # --- periodic -------------------------------------------------------------------------

    async def run_periodic(
        self,
        *,
        on_result: Callable[[RefreshResult], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        immediately: bool = False,
    ) -> None:
        """Refresh every ``settings.refresh.interval_minutes`` until cancelled.

        The interval is read again before each wait, so a change in the settings applies
        to the next round; 0 (off) ends the loop. Errors are reported to ``on_error`` and
        the loop goes on.
        """
        first = True
        while True:
            minutes = self.services.settings.refresh.interval_minutes
            if minutes <= 0:
                return
            if not (first and immediately):
                await sleep(minutes * 60)
            first = False
            try:
                result = await self.refresh()
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                continue  # that round was cancelled with :meth:`cancel`; the loop goes on
            except Exception as e:
                log.info("periodic refresh failed: %s", e)
                if on_error is not None:
                    on_error(e)
                continue
            if on_result is not None:
                on_result(result)


__all__ = ["RefreshResult", "RefreshService"]

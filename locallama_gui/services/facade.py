"""The one routing and cost service that the window, the tray and the CLI all call.

Qt-free and synchronous: the GUI runs these calls in an executor (see ``gui/bridge.py``), the
CLI calls them directly. It owns the settings, the store, the current catalogue and what is
derived from them (the routing index with observed profiles, the free quota).
"""

from __future__ import annotations

import difflib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from locallama_gui.core.catalogue import qualified_id
from locallama_gui.core.cost import estimate_cost
from locallama_gui.core.models import CostEstimate, ModelInfo, Source, Usage, decimal_str
from locallama_gui.core.profiles import ModelProfile, build_profiles
from locallama_gui.core.quota import FreeQuota, QuotaStatus
from locallama_gui.core.routing import (
    CatalogueIndex,
    FreePreference,
    Policy,
    Priority,
    RouteDecision,
    RoutingContext,
    Task,
    route,
)
from locallama_gui.core.settings import Settings
from locallama_gui.core.simulation import (
    SimTask,
    SimulationResult,
    simulate,
    tasks_from_history,
)
from locallama_gui.services.catalogue import (
    LoadedCatalogue,
    bundled_benchmarked_models,
    load_catalogue,
)
from locallama_gui.store.db import Store, StoreError
from locallama_gui.store.settings_file import load_settings, save_settings

log = logging.getLogger(__name__)

#: The longest a write handed to ``Services.write_behind`` waits for others to join it.
WRITE_BATCH_S = 0.05

#: Observed samples older than this are not read for profiles at start-up.
PROFILE_WINDOW = timedelta(days=90)


def _write(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        fn(*args, **kwargs)
    except StoreError as e:
        log.warning("run history not saved: %s", e)
    except Exception:
        log.exception("a deferred write failed")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UnknownModel(LookupError):
    """A model id that is not in the catalogue; the message suggests close ids."""


class Services:
    """Settings, store, catalogue, routing index and free quota, kept consistent."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        store: Store | None = None,
        catalogue: LoadedCatalogue | None = None,
        clock: Callable[[], datetime] = utcnow,
        notices: Sequence[str] = (),
    ) -> None:
        self.settings = settings or Settings()
        self.store = store
        self.clock = clock
        self.notices: list[str] = list(notices)
        self._lock = threading.RLock()
        self._catalogue = catalogue if catalogue is not None else load_catalogue(store)
        if self._catalogue.notice:
            self.notices.append(self._catalogue.notice)
        self._index: CatalogueIndex | None = None
        self._profiles: dict[str, ModelProfile] | None = None
        self._quota: FreeQuota | None = None
        # new samples not yet in the profiles: rebuild in the background once this
        # (monotonic) time has passed; see invalidate_profiles(within_s=)
        self._stale_due: float | None = None
        self._rebuilding = False
        self._writer: ThreadPoolExecutor | None = None
        self._pending_writes: list[tuple[Callable[..., Any], tuple, dict]] = []
        self._drain_scheduled = False
        self._flush_now = threading.Event()  # cuts a batch's wait short (flush, close)

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def open(cls, *, use_store: bool = True, catalogue: LoadedCatalogue | None = None) -> Services:
        """Settings from the user's file, the store in the data dir, the best catalogue."""
        notices: list[str] = []
        loaded = load_settings()
        if loaded.error:
            notices.append(loaded.error)
        store = None
        if use_store:
            try:
                store = Store()
            except StoreError as e:
                notices.append(f"History is unavailable this session: {e}")
            else:
                if store.recovery_message:
                    notices.append(store.recovery_message)
        return cls(settings=loaded.settings, store=store, catalogue=catalogue, notices=notices)

    def close(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._flush_now.set()
            writer.shutdown(wait=True)  # every write handed over is made before the store closes
        if self.store is not None:
            self.store.close()

    # --- writes behind the caller ---------------------------------------------------------

    def write_behind(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Make a store write on the one writer thread, in order, without waiting for it (the
        gateway answers before its records are written). A failure is logged, as the
        run's own writes are; :meth:`flush_writes` waits for what was handed over.

        Writes are made in batches, at most :data:`WRITE_BATCH_S` after the first of them:
        the writer then takes the interpreter from the gateway's thread once per batch, not
        once per request (which cost every request a share of its latency)."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="locallama-writer")
            self._pending_writes.append((fn, args, kwargs))
            if self._drain_scheduled:
                return
            # submitted under the lock: a flush that comes after this write finds its drain
            # already queued before the flush's own marker (submit never waits)
            try:
                self._writer.submit(self._drain_writes)
            except RuntimeError:  # shut down meanwhile: made here, never dropped
                batch, self._pending_writes = self._pending_writes, []
            else:
                self._drain_scheduled = True
                return
        for fn_, args_, kwargs_ in batch:
            _write(fn_, args_, kwargs_)

    def _drain_writes(self) -> None:
        """On the writer thread: wait for the batch to gather, then make its writes in order."""
        self._flush_now.wait(WRITE_BATCH_S)
        with self._lock:
            batch, self._pending_writes = self._pending_writes, []
            self._drain_scheduled = False
            if self._writer is not None:
                self._flush_now.clear()
        for fn, args, kwargs in batch:
            _write(fn, args, kwargs)

    def flush_writes(self, timeout_s: float = 10.0) -> bool:
        """Wait until every write handed to :meth:`write_behind` so far is made."""
        with self._lock:
            writer = self._writer
        if writer is None:
            return True
        self._flush_now.set()
        try:
            writer.submit(lambda: None).result(timeout_s)
        except (TimeoutError, RuntimeError):  # RuntimeError: closed meanwhile (all written)
            return False
        return True

    # --- catalogue ----------------------------------------------------------------------------

    @property
    def catalogue(self) -> LoadedCatalogue:
        return self._catalogue

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        return self._catalogue.models

    def set_catalogue(self, catalogue: LoadedCatalogue) -> None:
        with self._lock:
            self._catalogue = catalogue
            self._index = None
            # the profiles are keyed by the catalogue's ids (a local model qualified or not)
            self._profiles = None
            self._stale_due = None

    def find_model(self, model_id: str) -> ModelInfo:
        index = self.index
        j = index.by_id.get(model_id)
        if j is not None:
            return index.models[j]
        close = difflib.get_close_matches(model_id, list(index.by_id), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModel(f"model {model_id!r} is not in the catalogue{hint}")

    # --- derived state ---------------------------------------------------------------------------

    @property
    def profiles(self) -> dict[str, ModelProfile]:
        with self._lock:
            self._refresh_when_due()
            if self._profiles is None:
                self._profiles = self._load_profiles()
            return self._profiles

    def _load_profiles(self) -> dict[str, ModelProfile]:
        if self.store is None:
            return {}
        now = self.clock()
        try:
            samples = self.store.samples(since=now - PROFILE_WINDOW)
        except StoreError as e:
            log.warning("performance samples unreadable: %s", e)
            return {}
        return build_profiles(_by_catalogue_id(samples, self._catalogue.models), now)

    def invalidate_profiles(self, *, within_s: float = 0.0) -> None:
        """New samples were stored: rebuild the profiles and the routing index.

        By default at the next read. With ``within_s`` the current ones go on serving and are
        rebuilt in the background at most ``within_s`` seconds later: a busy gateway stores
        a sample per request, and rebuilding for each (every sample of the window read back,
        the index compiled again) would cost more than the request itself."""
        with self._lock:
            if within_s <= 0 or self._index is None:
                self._profiles = None
                self._index = None
                self._stale_due = None
                return
            due = time.monotonic() + within_s
            if self._stale_due is None or due < self._stale_due:
                self._stale_due = due

    def _refresh_when_due(self) -> None:
        """Under the lock: start the background rebuild when deferred samples are due."""
        due = self._stale_due
        if due is None or self._rebuilding or time.monotonic() < due:
            return
        self._stale_due = None
        self._rebuilding = True
        catalogue = self._catalogue
        threading.Thread(
            target=self._rebuild, args=(catalogue,), name="locallama-profiles", daemon=True
        ).start()

    def _rebuild(self, catalogue: LoadedCatalogue) -> None:
        try:
            profiles = self._load_profiles()
            index = CatalogueIndex(
                catalogue.models, profiles, prior_training=bundled_benchmarked_models
            )
        except Exception:  # the old figures stay; the next samples try again
            log.exception("the performance profiles could not be rebuilt")
            with self._lock:
                self._rebuilding = False
            return
        with self._lock:
            self._rebuilding = False
            if self._catalogue is catalogue and self._index is not None:
                self._profiles = profiles
                self._index = index

    @property
    def index_ready(self) -> bool:
        """The routing index is built: reading it costs nothing (no SQLite, no compiling)."""
        return self._index is not None

    @property
    def index(self) -> CatalogueIndex:
        with self._lock:
            self._refresh_when_due()
            if self._index is None:
                self._index = CatalogueIndex(
                    self._catalogue.models, self.profiles, prior_training=bundled_benchmarked_models
                )
            return self._index

    @property
    def quota(self) -> FreeQuota:
        with self._lock:
            if self._quota is None:
                self._quota = self._restore_quota()
            return self._quota

    def _restore_quota(self) -> FreeQuota:
        quota = FreeQuota(credits_purchased=bool(self.settings.routing.credits_purchased))
        quota.set_daily_cap(self.settings.routing.free_daily_cap)
        if self.store is None:
            return quota
        now = self.clock()
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            events = self.store.quota_events(since=day_start)
        except StoreError as e:
            log.warning("free quota history unreadable: %s", e)
            return quota
        for ev in events:
            if ev.kind == "request":
                quota.record_request(ev.ts)
            elif ev.kind == "limit_day":
                quota.record_limit("day", ev.ts, ev.reset_ts)
            elif ev.kind == "limit_minute":
                quota.record_limit("minute", ev.ts, ev.reset_ts)
        return quota

    def quota_status(self, now: datetime | None = None) -> QuotaStatus:
        quota = self.quota
        with self._lock:  # workers, the runner and the GUI's readers share one quota
            return quota.status(now or self.clock())

    def record_free_request(self, when: datetime | None = None, *, defer: bool = False) -> None:
        """Count a free request now; its record is written now, or behind (``defer``)."""
        when = when or self.clock()
        quota = self.quota
        with self._lock:
            quota.record_request(when)
        if self.store is not None:
            if defer:
                self.write_behind(self.store.add_quota_event, when, "request")
            else:
                self.store.add_quota_event(when, "request")

    def record_free_limit(self, scope: str, when: datetime, reset_at: datetime | None) -> None:
        quota = self.quota
        with self._lock:
            quota.record_limit(scope, when, reset_at)
        if self.store is not None:
            kind = "limit_day" if scope == "day" else "limit_minute"
            self.store.add_quota_event(when, kind, reset_at)

    # --- settings -------------------------------------------------------------------------------

    def adopt_key_status(self, status: Any, now: datetime | None = None) -> bool:
        """Take the daily free cap and today's count from a ``GET /key`` answer (a
        :class:`~locallama_gui.sources.results.KeyStatus`): the cap is saved in the settings,
        the count lifts the local one. Without ``free_model_daily_requests`` nothing changes
        (the 50/1000 rule stays, and says so). Returns whether the answer had them."""
        limit = getattr(status, "free_daily_limit", None)
        if limit is None:
            return False
        if self.settings.routing.free_daily_cap_reported != limit:
            routing = replace(self.settings.routing, free_daily_cap_reported=limit)
            self.update_settings(replace(self.settings, routing=routing))
        used = getattr(status, "free_daily_used", None)
        if used is not None:
            when = now or self.clock()
            quota = self.quota
            with self._lock:
                before = quota.status(when).used_day
                quota.sync_used_day(used, when)
            if self.store is not None and used > before:
                # the requests other clients sent today, dated at the day's start (outside
                # any minute window), so the next start counts them too
                day_start = when.replace(hour=0, minute=0, second=0, microsecond=0)
                try:
                    self.store.add_quota_requests(day_start, min(used - before, 100_000))
                except StoreError as e:
                    log.warning("free requests counted by OpenRouter not stored: %s", e)
        return True

    def update_settings(self, settings: Settings, *, save: bool = True) -> None:
        with self._lock:
            cap_changed = settings.routing.free_daily_cap != self.settings.routing.free_daily_cap
            self.settings = settings
            if cap_changed and self._quota is not None:
                self._quota.set_daily_cap(settings.routing.free_daily_cap)
        if save:
            save_settings(settings)

    def default_policy(self, **overrides: object) -> Policy:
        r = self.settings.routing
        policy = Policy(
            free_preference=FreePreference(r.free_preference),
            allow_paid=r.allow_paid,
            local_only=r.local_only,
            budget_usd=r.budget_usd,
            quality_floor=r.quality_floor,
            fallback_depth=r.fallback_depth,
        )
        return replace(policy, **overrides) if overrides else policy  # type: ignore[arg-type]

    def default_priority(self) -> Priority:
        return Priority(self.settings.routing.priority)

    # --- routing and cost -------------------------------------------------------------------

    def context(self, now: datetime | None = None, **kwargs: object) -> RoutingContext:
        now = now or self.clock()
        quarantined: frozenset[str] = frozenset()
        if self.store is not None:
            try:
                quarantined = frozenset(q.model_id for q in self.store.quarantined(now))
            except StoreError as e:
                log.warning("quarantine list unreadable: %s", e)
        return RoutingContext(
            index=self.index,
            now=now,
            quota=self.quota_status(now),
            quarantined=quarantined,
            **kwargs,  # type: ignore[arg-type]
        )

    def route(
        self,
        task: Task,
        policy: Policy | None = None,
        *,
        now: datetime | None = None,
        record: bool = False,
        key_present: bool | None = None,
        sources_down: frozenset[Source] = frozenset(),
    ) -> RouteDecision:
        """Route ``task``; ``key_present``/``sources_down`` describe what can run now (a run
        knows them; a what-if question leaves them open)."""
        context = self.context(now, key_present=key_present, sources_down=sources_down)
        decision = route(task, policy or self.default_policy(), context)
        if record and self.store is not None:
            try:
                self.store.add_route(
                    ts=decision.context.now,
                    task=decision.to_dict()["task"],
                    decision={
                        "chain": list(decision.chain_ids),
                        "estimated_cost_usd": None
                        if decision.estimated_cost_usd is None
                        else decimal_str(decision.estimated_cost_usd),
                        "below_threshold": decision.below_threshold,
                    },
                    chosen_id=decision.chain_ids[0] if decision.chain_ids else None,
                )
            except StoreError as e:
                log.warning("route not saved to history: %s", e)
        return decision

    def estimate(self, model_id: str, usage: Usage, at: datetime | None = None) -> CostEstimate:
        """The cost of ``usage`` on ``model_id`` at ``at`` (default: now, as routing prices
        it, so a time-of-day price window in force now applies)."""
        return estimate_cost(self.find_model(model_id), usage, at or self.clock())

    def simulate(
        self,
        tasks: Sequence[SimTask],
        policy: Policy | None = None,
        *,
        baseline_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> SimulationResult:
        if baseline_id is not None:
            self.find_model(baseline_id)  # a clear error for a typo
        return simulate(
            tasks,
            policy or self.default_policy(),
            self.index,
            baseline_id=baseline_id,
            credits_purchased=bool(self.settings.routing.credits_purchased),
            progress=progress,
            cancelled=cancelled,
        )

    def recorded_tasks(
        self, days: float = 30.0, limit: int = 1_000_000
    ) -> tuple[list[SimTask], int]:
        """The tasks routed in the last ``days`` days (the gateway, ``run``, the MCP server,
        the playground record each), oldest first, to simulate again; and how many records
        could not be read back. Raises :class:`StoreError` when the history is unreadable."""
        if self.store is None:
            return [], 0
        since = self.clock() - timedelta(days=days)
        return tasks_from_history(self.store.route_tasks(since, limit))

    def spend_today(self) -> Decimal | None:
        if self.store is None:
            return None
        now = self.clock()
        summary = self.store.spend_total(since=now.replace(hour=0, minute=0, second=0))
        return summary.total


__all__ = ["Services", "UnknownModel", "utcnow"]


def _by_catalogue_id(samples: Sequence[Any], models: Sequence[ModelInfo]) -> Sequence[Any]:
    """Samples with the catalogue's ids: one stored under a local server's own name for a
    model the catalogue now qualifies (another source lists that id) counts for that local
    model, never for the other source's."""
    renamed = {(m.source.value, m.upstream_id): m.id for m in models if m.upstream_id}
    # and back: samples stored under a qualified id count for the model once it is bare again
    renamed.update(
        ((m.source.value, qualified_id(m.source, m.id)), m.id)
        for m in models
        if m.source is not Source.OPENROUTER and not m.upstream_id
    )
    if not renamed:
        return samples
    return [
        replace(s, model_id=renamed[(s.source, s.model_id)])
        if (s.source, s.model_id) in renamed
        else s
        for s in samples
    ]

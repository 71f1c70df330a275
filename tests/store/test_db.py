from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from locallama_gui.core.models import ModelInfo, Source, Tier
from locallama_gui.core.samples import FreeQuotaEvent, PerformanceSample
from locallama_gui.store import db as db_module
from locallama_gui.store.db import SCHEMA_VERSION, Store, StoreError

T0 = datetime(2026, 8, 14, 12, 0, tzinfo=UTC)
TABLES = {
    "catalogue_snapshots",
    "performance_samples",
    "spend_ledger",
    "route_history",
    "quarantine",
    "free_quota_events",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "locallama.db")
    yield s
    s.close()


def sample(i: int = 0, **kw: object) -> PerformanceSample:
    values: dict[str, object] = {
        "model_id": f"model-{i % 3}",
        "source": "openrouter",
        "category": "code" if i % 2 else "chat",
        "ts": T0 + timedelta(minutes=i),
        "success": i % 5 != 0,
        "latency_ms": 100.0 + i,
        "ttft_ms": 20.5,
        "tokens_per_s": 42.25,
        "quality": 0.5,
        "error_kind": None if i % 5 else "timeout",
        "prompt_tokens": 10 + i,
        "completion_tokens": 5,
        "cost_usd": Decimal("0.000012") if i % 4 else None,
    }
    values.update(kw)
    return PerformanceSample(**values)  # type: ignore[arg-type]


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()
    return {r[0] for r in rows}


# --------------------------------------------------------------------------- schema


def test_default_location_respects_locallama_home(_isolated_home: Path) -> None:
    with Store() as s:
        assert s.path == _isolated_home / "data" / "locallama.db"
        s.record_spend(ts=T0, model_id="m", tier="paid", cost_usd=Decimal("1"))
    assert (_isolated_home / "data" / "locallama.db").is_file()


def test_migrates_from_empty(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION >= 1
        assert s.journal_mode() == "wal"
        assert s.recovered_from is None
        assert s.recovery_message is None
    assert tables(path) >= TABLES
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_empty_file_is_a_fresh_database_not_corruption(tmp_path: Path) -> None:
    path = tmp_path / "locallama.db"
    path.write_bytes(b"")
    with Store(path) as s:
        assert s.recovered_from is None
        assert s.schema_version() == SCHEMA_VERSION


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "locallama.db"
    with Store(path) as s:
        s.add_samples([sample(1), sample(2)])
        s.record_spend(ts=T0, model_id="m", tier="paid", cost_usd=Decimal("0.5"))
        s.set_quarantine("bad/model", T0 + timedelta(hours=1), 3, "5xx")
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.samples() == [sample(1), sample(2)]
        assert s.spend_total().total == Decimal("0.5")
        entry = s.get_quarantine("bad/model")
        assert entry is not None and entry.failures == 3


def test_newer_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "db" / "locallama.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer version") as info:
        Store(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["locallama.db"]


def test_closed_store_refuses_work(store: Store) -> None:
    store.close()
    assert store.closed
    with pytest.raises(StoreError, match="closed"):
        store.samples()
    store.close()  # closing twice is harmless


# --------------------------------------------------------------------------- recovery


def _aside_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if ".corrupt-" in p.name)


@pytest.mark.expected_warning_logs
def test_garbage_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "locallama.db"
    garbage = os.urandom(8192)
    path.write_bytes(garbage)
    (tmp_path / "settings.toml").write_text("[routing]\n")
    with caplog.at_level(logging.WARNING), Store(path) as s:
        assert s.recovered_from is not None
        assert s.recovered_from.name.startswith("locallama.db.corrupt-")
        assert s.recovered_from.read_bytes() == garbage
        assert s.recovery_message is not None
        assert str(s.recovered_from) in s.recovery_message
        # The fresh database works.
        s.add_samples([sample(1)])
        assert s.samples() == [sample(1)]
        assert s.schema_version() == SCHEMA_VERSION
    assert _aside_files(tmp_path) == [s.recovered_from]
    assert (tmp_path / "settings.toml").read_text() == "[routing]\n"
    assert "moved aside" in caplog.text


@pytest.mark.expected_warning_logs
@pytest.mark.parametrize("keep", [0.5, 0.05, 100])
def test_truncated_database_is_moved_aside(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "locallama.db"
    with Store(path) as s:
        s.add_samples(sample(i, error_kind="x" * 300) for i in range(2000))
    data = path.read_bytes()
    assert len(data) > 100_000
    cut = int(keep) if keep >= 1 else int(len(data) * keep)
    path.write_bytes(data[:cut])
    with Store(path) as s:
        assert s.recovered_from is not None
        assert s.recovered_from.read_bytes() == data[:cut]
        assert str(s.recovered_from) in (s.recovery_message or "")
        assert s.samples() == []
        s.add_samples([sample(3)])
    with Store(path) as s:
        assert s.recovered_from is None
        assert s.samples() == [sample(3)]


@pytest.mark.expected_warning_logs
def test_second_recovery_gets_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "locallama.db"
    path.write_bytes(b"garbage one" * 500)
    with Store(path) as s:
        first = s.recovered_from
    path.write_bytes(b"garbage two" * 500)
    with Store(path) as s:
        second = s.recovered_from
    assert first is not None and second is not None and first != second
    assert first.read_bytes() == b"garbage one" * 500
    assert second.read_bytes() == b"garbage two" * 500


def test_unmovable_corrupt_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locallama.db"
    garbage = os.urandom(4096)
    path.write_bytes(garbage)

    def no_rename(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(db_module.os, "rename", no_rename)
    with pytest.raises(StoreError, match="could not be moved aside") as info:
        Store(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == garbage


@pytest.mark.expected_warning_logs
@pytest.mark.skipif(os.name == "nt", reason="open files cannot be moved on Windows")
def test_wal_and_shm_move_with_the_database(tmp_path: Path) -> None:
    path = tmp_path / "locallama.db"
    path.write_bytes(os.urandom(4096))
    Path(f"{path}-wal").write_bytes(b"old wal")
    Path(f"{path}-shm").write_bytes(b"old shm")
    with Store(path) as s:
        aside = s.recovered_from
        assert aside is not None
        assert Path(f"{aside}-wal").read_bytes() == b"old wal"
        # The -shm is only SQLite's rebuildable index: moved, not necessarily unchanged.
        assert Path(f"{aside}-shm").exists()
        assert s.samples() == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions"
)
def test_unreadable_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "locallama.db"
    with Store(path) as s:
        s.add_samples([sample(1)])
    path.chmod(0)
    try:
        with Store(path) as s:
            assert s.recovered_from is not None
            assert s.samples() == []
    finally:
        for p in tmp_path.iterdir():
            p.chmod(0o600)


def _fail_first_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the first open fail as SQLite does for a file it may not read."""
    real_connect = sqlite3.connect
    calls = {"n": 0}

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        calls["n"] += 1
        if calls["n"] == 1:
            exc = sqlite3.OperationalError("unable to open database file")
            exc.sqlite_errorcode = 14  # type: ignore[attr-defined]  # SQLITE_CANTOPEN
            raise exc
        return real_connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(db_module.sqlite3, "connect", connect)


@pytest.mark.expected_warning_logs
def test_unopenable_file_is_moved_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locallama.db"
    with Store(path) as s:
        s.add_samples([sample(1)])
    before = path.read_bytes()
    _fail_first_connect(monkeypatch)
    with Store(path) as s:
        assert s.recovered_from is not None
        assert s.recovered_from.read_bytes() == before
        assert "cannot be read" in (s.recovery_message or "")
        assert s.samples() == []


def test_unopenable_unmovable_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locallama.db"
    with Store(path) as s:
        s.add_samples([sample(1)])
    before = path.read_bytes()
    _fail_first_connect(monkeypatch)

    def no_rename(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(db_module.os, "rename", no_rename)
    with pytest.raises(StoreError, match="Permission denied"):
        Store(path)
    assert path.read_bytes() == before


def test_locked_database_is_not_mistaken_for_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "db" / "locallama.db"
    path.parent.mkdir()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            Store(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not _aside_files(path.parent)
    assert "t" in tables(path)


# --------------------------------------------------------------------------- atomic writes


def test_failure_mid_batch_leaves_nothing(store: Store) -> None:
    store.add_samples([sample(0)])

    def batch() -> Iterator[PerformanceSample]:
        yield sample(1)
        yield sample(2)
        raise RuntimeError("source died mid-batch")

    with pytest.raises(RuntimeError, match="mid-batch"):
        store.add_samples(batch())
    assert store.samples() == [sample(0)]
    # The store is still usable after the rollback.
    assert store.add_samples([sample(3)]) == 1
    assert store.samples() == [sample(0), sample(3)]


def test_bad_item_mid_batch_leaves_nothing(store: Store) -> None:
    with pytest.raises(TypeError):
        store.add_samples([sample(1), "not a sample", sample(2)])  # type: ignore[list-item]
    assert store.samples() == []


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record_spend(ts=datetime(2026, 1, 1), model_id="m", tier="paid", cost_usd=Decimal(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        sample(ts=datetime(2026, 1, 1))
    assert store.spend_total().count == 0


def test_concurrent_writers_from_threads(store: Store) -> None:
    def work(i: int) -> None:
        store.add_samples([sample(i)])
        store.record_spend(ts=T0, model_id=f"m{i}", tier="paid", cost_usd=Decimal("0.01"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(64)))
    assert len(store.samples()) == 64
    summary = store.spend_total()
    assert summary.count == 64
    assert summary.total == Decimal("0.64")


# --------------------------------------------------------------------------- samples


def test_samples_round_trip_and_filters(store: Store) -> None:
    items = [sample(i) for i in range(12)]
    assert store.add_samples(reversed(items)) == 12
    assert store.samples() == items  # oldest first, whatever the insert order
    assert store.samples(model_id="model-1") == [s for s in items if s.model_id == "model-1"]
    assert store.samples(category="code") == [s for s in items if s.category == "code"]
    since = T0 + timedelta(minutes=7)
    assert store.samples(since=since) == [s for s in items if s.ts >= since]
    assert store.samples(limit=3) == items[-3:]
    got = store.samples(model_id="model-0", category="chat", since=T0, limit=1)
    assert got == [s for s in items if s.model_id == "model-0" and s.category == "chat"][-1:]


def test_sample_values_keep_their_types(store: Store) -> None:
    s = sample(1, cost_usd=Decimal("0.00000123456789"), source=Source.OLLAMA)
    store.add_samples([s])
    (got,) = store.samples()
    assert got.cost_usd == Decimal("0.00000123456789")
    assert isinstance(got.cost_usd, Decimal)
    assert got.success is True and isinstance(got.success, bool)
    assert got.ts == s.ts and got.ts.tzinfo is not None
    assert got.source == "ollama"


def test_since_compares_instants_across_zones(store: Store) -> None:
    store.add_samples([sample(0, ts=T0), sample(1, ts=T0 + timedelta(hours=2))])
    plus_two = timezone(timedelta(hours=2))
    since = (T0 + timedelta(hours=1)).astimezone(plus_two)
    assert [s.ts for s in store.samples(since=since)] == [T0 + timedelta(hours=2)]


# --------------------------------------------------------------------------- spend


def test_spend_is_exact_decimal(store: Store) -> None:
    store.record_spend(ts=T0, model_id="a", tier=Tier.PAID, cost_usd=Decimal("0.1"))
    store.record_spend(ts=T0, model_id="b", tier=Tier.PAID, cost_usd=Decimal("0.2"))
    summary = store.spend_total()
    assert summary.total == Decimal("0.3")
    assert summary.unknown_count == 0 and summary.count == 2 and summary.is_complete


def test_tiny_prices_sum_without_rounding(store: Store) -> None:
    tiny = Decimal("0.000000000000000000000000000001")  # 1e-30
    store.record_spend(ts=T0, model_id="a", tier="paid", cost_usd=Decimal("1000"))
    store.record_spend(ts=T0, model_id="a", tier="paid", cost_usd=tiny)
    assert store.spend_total().total == Decimal("1000.000000000000000000000000000001")


def test_unknown_costs_are_counted_not_summed(store: Store) -> None:
    store.record_spend(ts=T0, model_id="a", tier="paid", cost_usd=Decimal("0.25"))
    store.record_spend(ts=T0, model_id="openrouter/auto", tier="variable", cost_usd=None)
    store.record_spend(ts=T0, model_id="x:free", tier="free", cost_usd=Decimal("0"))
    summary = store.spend_total()
    assert summary.total == Decimal("0.25")
    assert summary.unknown_count == 1
    assert summary.count == 3
    assert summary.known_count == 2
    assert not summary.is_complete
    entries = store.spend_entries()
    unknown = [e for e in entries if e.model_id == "openrouter/auto"]
    assert unknown[0].cost_usd is None
    assert next(e for e in entries if e.model_id == "x:free").cost_usd == Decimal("0")


def test_spend_since(store: Store) -> None:
    store.record_spend(ts=T0, model_id="old", tier="paid", cost_usd=Decimal("5"))
    store.record_spend(
        ts=T0 + timedelta(days=1),
        model_id="new",
        tier="paid",
        cost_usd=Decimal("1.5"),
        prompt_tokens=100,
        completion_tokens=20,
        request_id="gen-1",
        note="fallback",
    )
    assert store.spend_total(since=T0 + timedelta(hours=1)).total == Decimal("1.5")
    assert store.spend_total().total == Decimal("6.5")
    (entry,) = store.spend_entries(since=T0 + timedelta(hours=1))
    assert (entry.model_id, entry.prompt_tokens, entry.completion_tokens) == ("new", 100, 20)
    assert (entry.request_id, entry.note, entry.tier) == ("gen-1", "fallback", "paid")


def test_float_money_is_refused(store: Store) -> None:
    with pytest.raises(TypeError):
        store.record_spend(ts=T0, model_id="a", tier="paid", cost_usd=0.1)  # type: ignore[arg-type]
    assert store.spend_total().count == 0


# --------------------------------------------------------------------------- routes


def test_routes_round_trip_newest_first(store: Store) -> None:
    for i in range(5):
        store.add_route(
            ts=T0 + timedelta(seconds=i),
            task={"prompt_tokens": i, "category": "code"},
            decision={"chosen": f"m{i}", "cost": Decimal("0.001"), "tier": Tier.PAID},
            chosen_id=f"m{i}",
        )
    routes = store.recent_routes(3)
    assert [r.chosen_id for r in routes] == ["m4", "m3", "m2"]
    assert routes[0].task == {"prompt_tokens": 4, "category": "code"}
    assert routes[0].decision == {"chosen": "m4", "cost": "0.001", "tier": "paid"}
    assert routes[0].ts == T0 + timedelta(seconds=4)


def test_unserialisable_route_writes_nothing(store: Store) -> None:
    with pytest.raises(TypeError):
        store.add_route(ts=T0, task={"x": object()}, decision={}, chosen_id=None)
    assert store.recent_routes() == []


# --------------------------------------------------------------------------- quarantine


def test_quarantine_set_get_clear(store: Store) -> None:
    assert store.get_quarantine("m") is None
    store.set_quarantine("m", T0 + timedelta(minutes=10), 3, "three 5xx in a row")
    store.set_quarantine("m", T0 + timedelta(minutes=30), 4, "four 5xx in a row")
    store.set_quarantine("n", T0 - timedelta(minutes=1), 3, "old")
    entry = store.get_quarantine("m")
    assert entry is not None
    assert (entry.until, entry.failures, entry.reason) == (
        T0 + timedelta(minutes=30),
        4,
        "four 5xx in a row",
    )
    assert entry.active(T0) and not entry.active(T0 + timedelta(hours=1))
    assert [e.model_id for e in store.quarantined()] == ["m", "n"]
    assert [e.model_id for e in store.quarantined(now=T0)] == ["m"]
    assert store.clear_quarantine("m") == 1
    assert store.get_quarantine("m") is None
    assert store.clear_quarantine() == 1
    assert store.quarantined() == []


# --------------------------------------------------------------------------- quota events


def test_quota_events(store: Store) -> None:
    store.add_quota_event(T0, "request")
    store.add_quota_event(T0 + timedelta(seconds=1), "limit_minute", T0 + timedelta(minutes=1))
    store.add_quota_event(T0 + timedelta(hours=1), "limit_day", T0 + timedelta(hours=12))
    events = store.quota_events()
    assert events[1] == FreeQuotaEvent(
        T0 + timedelta(seconds=1), "limit_minute", T0 + timedelta(minutes=1)
    )
    assert [e.kind for e in store.quota_events(since=T0 + timedelta(seconds=1))] == [
        "limit_minute",
        "limit_day",
    ]
    assert store.prune_quota_events(T0 + timedelta(minutes=5)) == 2
    assert [e.kind for e in store.quota_events()] == ["limit_day"]


def test_bad_quota_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="kind"):
        store.add_quota_event(T0, "limit_week")
    assert store.quota_events() == []


# --------------------------------------------------------------------------- catalogue


@pytest.fixture
def openrouter_models(data_dir: Path) -> list[ModelInfo]:
    catalogue = pytest.importorskip("locallama_gui.core.catalogue")
    payload = json.loads((data_dir / "openrouter" / "models-2026-08-14.json").read_text())
    models = list(catalogue.parse_openrouter_models(payload).models)
    assert len(models) > 300
    return models


def test_catalogue_snapshot_round_trip(store: Store, openrouter_models: list[ModelInfo]) -> None:
    diff = {"added": ["a/b"], "repriced": [{"id": "c/d", "old": Decimal("0.1")}]}
    snap_id = store.save_catalogue("openrouter", T0, openrouter_models, diff)
    assert snap_id > 0
    got = store.latest_catalogue()
    assert got is not None
    models, fetched_at, source = got
    assert models == openrouter_models
    assert fetched_at == T0
    assert source == "openrouter"
    (info,) = store.catalogue_history()
    assert info.model_count == len(openrouter_models)
    assert info.diff == {"added": ["a/b"], "repriced": [{"id": "c/d", "old": "0.1"}]}


def test_catalogue_survives_reopen(tmp_path: Path, openrouter_models: list[ModelInfo]) -> None:
    path = tmp_path / "locallama.db"
    with Store(path) as s:
        s.save_catalogue("openrouter", T0, openrouter_models, None)
    with Store(path) as s:
        got = s.latest_catalogue("openrouter")
    assert got is not None and got[0] == openrouter_models


def test_latest_catalogue_picks_newest_per_source(
    store: Store, openrouter_models: list[ModelInfo]
) -> None:
    assert store.latest_catalogue() is None
    first, second = openrouter_models[:5], openrouter_models[5:8]
    local = [ModelInfo(id="llama3:8b", name="llama3:8b", source=Source.OLLAMA, tier=Tier.LOCAL)]
    store.save_catalogue("openrouter", T0 + timedelta(hours=1), second, None)
    store.save_catalogue("openrouter", T0, first, None)  # older, saved later
    store.save_catalogue("ollama", T0 + timedelta(hours=2), local, None)
    got = store.latest_catalogue("openrouter")
    assert got is not None and got[0] == second and got[1] == T0 + timedelta(hours=1)
    got = store.latest_catalogue()
    assert got is not None and got[0] == local and got[2] == "ollama"
    assert store.latest_catalogue("lmstudio") is None


def test_old_snapshots_are_pruned(store: Store, openrouter_models: list[ModelInfo]) -> None:
    for i in range(5):
        store.save_catalogue("openrouter", T0 + timedelta(hours=i), openrouter_models[:2], keep=3)
    store.save_catalogue("ollama", T0, [], None, keep=3)
    history = store.catalogue_history("openrouter")
    assert [h.fetched_at for h in history] == [T0 + timedelta(hours=i) for i in (4, 3, 2)]
    assert len(store.catalogue_history("ollama")) == 1


@pytest.mark.expected_warning_logs
def test_unreadable_newest_snapshot_falls_back(
    store: Store, openrouter_models: list[ModelInfo], caplog: pytest.LogCaptureFixture
) -> None:
    store.save_catalogue("openrouter", T0, openrouter_models[:3], None)
    bad_id = store.save_catalogue("openrouter", T0 + timedelta(hours=1), openrouter_models, None)
    with store._write() as conn:
        conn.execute(
            "UPDATE catalogue_snapshots SET payload = ? WHERE id = ?",
            ('[{"id": 5}]', bad_id),
        )
    with caplog.at_level(logging.WARNING):
        got = store.latest_catalogue()
    assert got is not None and got[0] == openrouter_models[:3] and got[1] == T0
    assert "unreadable" in caplog.text


def test_a_version_1_database_gains_the_client_and_baseline_columns(tmp_path):
    from locallama_gui.store.db import MIGRATIONS

    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO spend_ledger (ts, model_id, tier, cost_usd) VALUES (?, ?, ?, ?)",
        ("2026-12-01T10:00:00.000000+00:00", "openai/gpt-4o-mini", "paid", "0.0012"),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 2
        (old,) = s.spend_entries()
        assert old.cost_usd == Decimal("0.0012") and old.client is None
        assert old.baseline_cost_usd is None
        s.record_spend(
            ts=old.ts,
            model_id="gemma4:e4b",
            tier="local",
            cost_usd=Decimal(0),
            client="Aider",
            baseline_model="anthropic/claude-sonnet-4.5",
            baseline_cost_usd=Decimal("0.0031"),
        )
        new = next(e for e in s.spend_entries() if e.client == "Aider")
        assert new.baseline_cost_usd == Decimal("0.0031")

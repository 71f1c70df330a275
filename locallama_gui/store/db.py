"""SQLite persistence: catalogue snapshots, samples, spend, routes, quarantine, quota.

One connection per ``Store``, shared between threads behind a lock (services call
it from an executor). Every write runs in its own transaction: it lands whole or
not at all. The schema is versioned with ``PRAGMA user_version``; a database from
a newer version of the app is refused and left alone. A corrupt or unreadable
database file is moved aside (with its ``-wal``/``-shm``) and a fresh one created;
``recovered_from`` and ``recovery_message`` say what happened.

Text that can come from a server (model ids and names, provider answers, error texts, route
decisions) is redacted on the way in (:func:`_clean`): the live API key, whole or in pieces,
is never stored, whatever echoed it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import decimal
import enum
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from locallama_gui.core import jsonstream
from locallama_gui.core.models import ModelInfo
from locallama_gui.core.redaction import redact_known
from locallama_gui.core.samples import (
    FreeQuotaEvent,
    PerformanceSample,
    QuarantineEntry,
    RouteRecord,
    SpendEntry,
    SpendSummary,
)
from locallama_gui.store.paths import database_path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
DEFAULT_SNAPSHOTS_KEPT = 30

#: Schema steps; step ``i`` takes the database from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE catalogue_snapshots (
        id INTEGER PRIMARY KEY,
        fetched_at TEXT NOT NULL,
        source TEXT NOT NULL,
        model_count INTEGER NOT NULL,
        payload TEXT NOT NULL,
        diff TEXT
    );
    CREATE INDEX ix_catalogue_source_time ON catalogue_snapshots (source, fetched_at);
    CREATE INDEX ix_catalogue_time ON catalogue_snapshots (fetched_at);

    CREATE TABLE performance_samples (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL,
        source TEXT NOT NULL,
        category TEXT NOT NULL,
        ts TEXT NOT NULL,
        latency_ms REAL,
        ttft_ms REAL,
        tokens_per_s REAL,
        success INTEGER NOT NULL CHECK (success IN (0, 1)),
        quality REAL,
        error_kind TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cost_usd TEXT
    );
    CREATE INDEX ix_samples_model_ts ON performance_samples (model_id, ts);
    CREATE INDEX ix_samples_ts ON performance_samples (ts);

    CREATE TABLE spend_ledger (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        model_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd TEXT,
        request_id TEXT,
        note TEXT
    );
    CREATE INDEX ix_spend_ts ON spend_ledger (ts);

    CREATE TABLE route_history (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        task TEXT NOT NULL,
        decision TEXT NOT NULL,
        chosen_id TEXT
    );
    CREATE INDEX ix_routes_ts ON route_history (ts);

    CREATE TABLE quarantine (
        model_id TEXT PRIMARY KEY,
        until_ts TEXT NOT NULL,
        failures INTEGER NOT NULL,
        reason TEXT NOT NULL
    );

    CREATE TABLE free_quota_events (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('request', 'limit_minute', 'limit_day')),
        reset_ts TEXT
    );
    CREATE INDEX ix_quota_ts ON free_quota_events (ts);
    """,
    # 1 -> 2: who sent each paid-or-free request, and what the baseline would have cost.
    """
    ALTER TABLE spend_ledger ADD COLUMN client TEXT;
    ALTER TABLE spend_ledger ADD COLUMN baseline_model TEXT;
    ALTER TABLE spend_ledger ADD COLUMN baseline_cost_usd TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# Primary SQLite result codes (extended codes carry them in the low byte).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_CORRUPT = 11
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26
_CORRUPT_CODES = {_SQLITE_CORRUPT, _SQLITE_NOTADB}
_ACCESS_CODES = {_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN}
_BUSY_CODES = {_SQLITE_BUSY, _SQLITE_LOCKED}
_SIDECARS = ("-wal", "-shm", "-journal")


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says why in plain words."""


class _Unusable(Exception):
    """The database file cannot be used as it is and may be moved aside.

    ``conn`` is the connection that found the problem, still open: closing it
    can make SQLite delete the ``-wal``/``-shm`` files, so it is closed only
    after they were moved aside (where the platform allows moving open files).
    """

    def __init__(self, reason: str, conn: sqlite3.Connection | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.conn = conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A stored catalogue snapshot without its models."""

    id: int
    fetched_at: datetime
    source: str
    model_count: int
    diff: Mapping[str, Any] | None


# --------------------------------------------------------------------------- conversions


def _ts(value: datetime) -> str:
    """Aware datetime -> fixed-width ISO 8601 UTC text (sorts as time)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware (use UTC), got naive {value!r}")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _opt_ts(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _opt_dt(text: str | None) -> datetime | None:
    return None if text is None else _dt(text)


def _money(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"money must be a finite Decimal or None (unknown), got {value!r}")
    return str(value)


def _opt_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _ts(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON: {value!r}")


def _to_json(value: Any) -> str:
    text = json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    return redact_known(text)  # masking keeps a JSON document valid


def _clean(value: str | None) -> str | None:
    """A text column's value with the live API key masked (see the module docstring)."""
    return value if value is None else redact_known(value)


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


# --------------------------------------------------------------------------- the store


class Store:
    """The app's SQLite database. Safe to share between threads."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else database_path()
        self.recovered_from: Path | None = None
        self.recovery_message: str | None = None
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = self._open(self.path)
        except _Unusable as problem:
            if os.name == "nt":  # open files cannot be renamed there
                problem.close()
            try:
                aside = self._move_aside(problem.reason)
            finally:
                problem.close()
            try:
                self._conn = self._open(self.path)
            except _Unusable as again:
                raise StoreError(
                    f"Could not create a fresh database at {self.path}: {again.reason}"
                ) from None
            self.recovered_from = aside
            self.recovery_message = (
                f"The LocaLLama database at {self.path} could not be used "
                f"({problem.reason}). It was moved aside to {aside} and a fresh, empty "
                "database was created. Catalogue history, performance samples, spend and "
                "route history start over; your settings and API key were not touched."
            )
            log.warning("database recovered: %s", self.recovery_message)

    # -- opening ---------------------------------------------------------------------

    def _open(self, path: Path) -> sqlite3.Connection:
        existed = path.exists()
        try:
            conn = sqlite3.connect(
                str(path),
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise self._classify(exc, existed) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise _Unusable(
                    "integrity check failed: " + "; ".join(map(str, problems[:3])), conn
                )
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The database at {path} was written by a newer version of LocaLLama "
                    f"(schema {version}; this version understands up to {SCHEMA_VERSION}). "
                    "It was left unchanged: update the app, or move the file away to start "
                    "afresh."
                )
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn, version)
        except BaseException as exc:
            problem = self._classify(exc, existed) if isinstance(exc, sqlite3.Error) else exc
            if isinstance(problem, _Unusable):
                problem.conn = conn
            else:
                conn.close()
            if problem is exc:
                raise
            raise problem from exc
        return conn

    def _classify(self, exc: sqlite3.Error, existed: bool) -> BaseException:
        code = _primary_code(exc)
        if code in _CORRUPT_CODES:
            return _Unusable(f"damaged or not a database: {exc}")
        if code in _ACCESS_CODES and existed:
            return _Unusable(f"cannot be read or written: {exc}")
        if code in _BUSY_CODES:
            return StoreError(
                f"The database at {self.path} is locked by another program "
                "(is LocaLLama already running?). Close it and try again."
            )
        return StoreError(f"Cannot open the database at {self.path}: {exc}")

    @staticmethod
    def _migrate(conn: sqlite3.Connection, version: int) -> None:
        for step in range(version, SCHEMA_VERSION):
            script = f"BEGIN IMMEDIATE;\n{MIGRATIONS[step]}\nPRAGMA user_version = {step + 1};\n"
            try:
                conn.executescript(script)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _move_aside(self, reason: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists() or any(Path(f"{aside}{s}").exists() for s in _SIDECARS):
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.rename(self.path, aside)
        except OSError as exc:
            raise StoreError(
                f"The database at {self.path} cannot be used ({reason}) and could not be "
                f"moved aside ({exc.strerror or exc}). Check the file's permissions, or move "
                "it away yourself, then start LocaLLama again."
            ) from None
        for suffix in _SIDECARS:
            side = Path(f"{self.path}{suffix}")
            if not side.exists():
                continue
            try:
                os.rename(side, Path(f"{aside}{suffix}"))
            except OSError:
                try:
                    side.unlink()
                except OSError as exc:
                    raise StoreError(
                        f"The database at {self.path} was moved to {aside}, but {side} could "
                        f"not be moved or removed ({exc.strerror or exc}). Remove it, then "
                        "start LocaLLama again."
                    ) from None
        return aside

    # -- plumbing --------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is closed")
        return self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One atomic transaction: everything inside lands, or nothing does."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to the database: {exc}") from exc
            try:
                yield conn
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"cannot write to the database: {exc}") from exc
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"cannot write to the database: {exc}") from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the database: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def journal_mode(self) -> str:
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- catalogue snapshots ---------------------------------------------------------

    def save_catalogue(
        self,
        source: str,
        fetched_at: datetime,
        models: Iterable[ModelInfo],
        diff: Mapping[str, Any] | None = None,
        *,
        keep: int | None = DEFAULT_SNAPSHOTS_KEPT,
    ) -> int:
        """Store a snapshot of model facts; keep only the newest ``keep`` per source."""
        from locallama_gui.core.catalogue import model_to_facts

        facts = [model_to_facts(m) for m in models]
        # item by item: one C call over thousands of models would hold the interpreter lock
        payload = jsonstream.dumps_list(
            facts, default=_json_default, ensure_ascii=False, separators=(",", ":")
        )
        diff_json = None if diff is None else _to_json(diff)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO catalogue_snapshots (fetched_at, source, model_count, payload, diff)"
                " VALUES (?, ?, ?, ?, ?)",
                (_ts(fetched_at), str(source), len(facts), redact_known(payload), diff_json),
            )
            snapshot_id = int(cur.lastrowid or 0)
            if keep is not None:
                conn.execute(
                    "DELETE FROM catalogue_snapshots WHERE source = ? AND id NOT IN ("
                    " SELECT id FROM catalogue_snapshots WHERE source = ?"
                    " ORDER BY fetched_at DESC, id DESC LIMIT ?)",
                    (str(source), str(source), max(1, keep)),
                )
        return snapshot_id

    def latest_catalogue(
        self, source: str | None = None
    ) -> tuple[list[ModelInfo], datetime, str] | None:
        """The newest snapshot that still reads back: (models, fetched_at, source)."""
        from locallama_gui.core.catalogue import model_from_facts

        sql = "SELECT id, fetched_at, source, payload FROM catalogue_snapshots"
        params: tuple[Any, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (str(source),)
        sql += " ORDER BY fetched_at DESC, id DESC"
        with self._read() as conn:
            for snap_id, fetched_at, src, payload in conn.execute(sql, params):
                try:
                    models = [model_from_facts(d) for d in jsonstream.loads(payload, depth=1)]
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    log.warning("catalogue snapshot %s is unreadable, skipped: %s", snap_id, exc)
                    continue
                return models, _dt(fetched_at), src
        return None

    def catalogue_history(self, source: str | None = None, limit: int = 20) -> list[SnapshotInfo]:
        """Snapshot metadata, newest first."""
        sql = "SELECT id, fetched_at, source, model_count, diff FROM catalogue_snapshots"
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(str(source))
        sql += " ORDER BY fetched_at DESC, id DESC LIMIT ?"
        params.append(int(limit))
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            SnapshotInfo(
                id=r[0],
                fetched_at=_dt(r[1]),
                source=r[2],
                model_count=r[3],
                diff=None if r[4] is None else json.loads(r[4]),
            )
            for r in rows
        ]

    # -- performance samples ---------------------------------------------------------

    def add_samples(self, samples: Iterable[PerformanceSample]) -> int:
        """Insert samples in one transaction; returns how many were stored."""
        count = 0
        with self._write() as conn:
            for s in samples:
                if not isinstance(s, PerformanceSample):
                    raise TypeError(f"expected a PerformanceSample, got {s!r}")
                conn.execute(
                    "INSERT INTO performance_samples (model_id, source, category, ts,"
                    " latency_ms, ttft_ms, tokens_per_s, success, quality, error_kind,"
                    " prompt_tokens, completion_tokens, cost_usd)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        _clean(s.model_id),
                        str(s.source),
                        str(s.category),
                        _ts(s.ts),
                        s.latency_ms,
                        s.ttft_ms,
                        s.tokens_per_s,
                        1 if s.success else 0,
                        s.quality,
                        _clean(s.error_kind),
                        s.prompt_tokens,
                        s.completion_tokens,
                        _money(s.cost_usd),
                    ),
                )
                count += 1
        return count

    def samples(
        self,
        model_id: str | None = None,
        since: datetime | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> list[PerformanceSample]:
        """Matching samples, oldest first; with ``limit``, the newest ``limit`` of them."""
        where: list[str] = []
        params: list[Any] = []
        if model_id is not None:
            where.append("model_id = ?")
            params.append(model_id)
        if since is not None:
            where.append("ts >= ?")
            params.append(_ts(since))
        if category is not None:
            where.append("category = ?")
            params.append(str(category))
        sql = (
            "SELECT model_id, source, category, ts, latency_ms, ttft_ms, tokens_per_s, success,"
            " quality, error_kind, prompt_tokens, completion_tokens, cost_usd"
            " FROM performance_samples"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, int(limit)))
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        rows.reverse()
        return [
            PerformanceSample(
                model_id=r[0],
                source=r[1],
                category=r[2],
                ts=_dt(r[3]),
                latency_ms=r[4],
                ttft_ms=r[5],
                tokens_per_s=r[6],
                success=bool(r[7]),
                quality=r[8],
                error_kind=r[9],
                prompt_tokens=r[10],
                completion_tokens=r[11],
                cost_usd=_opt_decimal(r[12]),
            )
            for r in rows
        ]

    # -- spend -----------------------------------------------------------------------

    def record_spend(
        self,
        *,
        ts: datetime,
        model_id: str,
        tier: str,
        cost_usd: Decimal | None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        request_id: str | None = None,
        note: str | None = None,
        client: str | None = None,
        baseline_model: str | None = None,
        baseline_cost_usd: Decimal | None = None,
    ) -> int:
        """Add a ledger entry. ``cost_usd=None`` means unknown (never counted as $0)."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO spend_ledger (ts, model_id, tier, prompt_tokens, completion_tokens,"
                " cost_usd, request_id, note, client, baseline_model, baseline_cost_usd)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _ts(ts),
                    _clean(model_id),
                    str(tier),
                    int(prompt_tokens),
                    int(completion_tokens),
                    _money(cost_usd),
                    _clean(request_id),
                    _clean(note),
                    _clean(client),
                    _clean(baseline_model),
                    _money(baseline_cost_usd),
                ),
            )
            return int(cur.lastrowid or 0)

    def spend_total(self, since: datetime | None = None) -> SpendSummary:
        """Exact Decimal sum of known costs since ``since``; unknown costs are counted apart."""
        sql = "SELECT cost_usd FROM spend_ledger"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE ts >= ?"
            params = (_ts(since),)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        total = Decimal(0)
        unknown = 0
        with decimal.localcontext(prec=200):
            for (cost,) in rows:
                if cost is None:
                    unknown += 1
                else:
                    total += Decimal(cost)
        return SpendSummary(total=total, unknown_count=unknown, count=len(rows))

    def spend_entries(
        self, since: datetime | None = None, limit: int | None = None
    ) -> list[SpendEntry]:
        """Ledger entries, newest first."""
        sql = (
            "SELECT id, ts, model_id, tier, prompt_tokens, completion_tokens, cost_usd,"
            " request_id, note, client, baseline_model, baseline_cost_usd FROM spend_ledger"
        )
        params: list[Any] = []
        if since is not None:
            sql += " WHERE ts >= ?"
            params.append(_ts(since))
        sql += " ORDER BY ts DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, int(limit)))
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            SpendEntry(
                id=r[0],
                ts=_dt(r[1]),
                model_id=r[2],
                tier=r[3],
                prompt_tokens=r[4],
                completion_tokens=r[5],
                cost_usd=_opt_decimal(r[6]),
                request_id=r[7],
                note=r[8],
                client=r[9],
                baseline_model=r[10],
                baseline_cost_usd=_opt_decimal(r[11]),
            )
            for r in rows
        ]

    # -- route history ---------------------------------------------------------------

    def add_route(self, *, ts: datetime, task: Any, decision: Any, chosen_id: str | None) -> int:
        """Record a routing decision; ``task``/``decision`` are stored as JSON."""
        task_json = _to_json(task)
        decision_json = _to_json(decision)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO route_history (ts, task, decision, chosen_id) VALUES (?, ?, ?, ?)",
                (_ts(ts), task_json, decision_json, _clean(chosen_id)),
            )
            return int(cur.lastrowid or 0)

    def recent_routes(self, limit: int = 50) -> list[RouteRecord]:
        """The newest routes, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, ts, task, decision, chosen_id FROM route_history"
                " ORDER BY ts DESC, id DESC LIMIT ?",
                (max(0, int(limit)),),
            ).fetchall()
        return [
            RouteRecord(
                id=r[0],
                ts=_dt(r[1]),
                task=json.loads(r[2]),
                decision=json.loads(r[3]),
                chosen_id=r[4],
            )
            for r in rows
        ]

    def route_tasks(self, since: datetime, limit: int = 1_000_000) -> list[tuple[datetime, Any]]:
        """(time, task) of the routes at or after ``since``, newest first: what a replay reads
        (the decisions are left unparsed). A task that is not JSON comes back as None."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT ts, task FROM route_history WHERE ts >= ? ORDER BY ts DESC, id DESC"
                " LIMIT ?",
                (_ts(since), max(0, int(limit))),
            ).fetchall()
        out = []
        for ts, task in rows:
            try:
                out.append((_dt(ts), json.loads(task)))
            except ValueError:
                out.append((_dt(ts), None))
        return out

    # -- quarantine ------------------------------------------------------------------

    def set_quarantine(self, model_id: str, until: datetime, failures: int, reason: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO quarantine (model_id, until_ts, failures, reason) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (model_id) DO UPDATE SET until_ts = excluded.until_ts,"
                " failures = excluded.failures, reason = excluded.reason",
                (model_id, _ts(until), int(failures), _clean(reason)),
            )

    def get_quarantine(self, model_id: str) -> QuarantineEntry | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT model_id, until_ts, failures, reason FROM quarantine WHERE model_id = ?",
                (model_id,),
            ).fetchone()
        return None if row is None else QuarantineEntry(row[0], _dt(row[1]), row[2], row[3])

    def quarantined(self, now: datetime | None = None) -> list[QuarantineEntry]:
        """Every entry, or with ``now`` only those still in force, by model id."""
        sql = "SELECT model_id, until_ts, failures, reason FROM quarantine"
        params: tuple[Any, ...] = ()
        if now is not None:
            sql += " WHERE until_ts > ?"
            params = (_ts(now),)
        sql += " ORDER BY model_id"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [QuarantineEntry(r[0], _dt(r[1]), r[2], r[3]) for r in rows]

    def clear_quarantine(self, model_id: str | None = None) -> int:
        """Lift one model's quarantine (or every one); returns how many were lifted."""
        with self._write() as conn:
            if model_id is None:
                cur = conn.execute("DELETE FROM quarantine")
            else:
                cur = conn.execute("DELETE FROM quarantine WHERE model_id = ?", (model_id,))
            return cur.rowcount

    # -- free quota events -----------------------------------------------------------

    def add_quota_event(
        self, ts: datetime, kind: str, reset_ts: datetime | None = None
    ) -> FreeQuotaEvent:
        event = FreeQuotaEvent(ts=ts, kind=kind, reset_ts=reset_ts)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO free_quota_events (ts, kind, reset_ts) VALUES (?, ?, ?)",
                (_ts(event.ts), event.kind, _opt_ts(event.reset_ts)),
            )
        return event

    def add_quota_requests(self, ts: datetime, count: int) -> None:
        """``count`` free requests at ``ts`` in one transaction (requests other clients of
        the account sent, as ``GET /key`` counted them)."""
        if count <= 0:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO free_quota_events (ts, kind, reset_ts) VALUES (?, 'request', NULL)",
                [(_ts(ts),)] * count,
            )

    def quota_events(self, since: datetime | None = None) -> list[FreeQuotaEvent]:
        """Events at or after ``since``, oldest first."""
        sql = "SELECT ts, kind, reset_ts FROM free_quota_events"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE ts >= ?"
            params = (_ts(since),)
        sql += " ORDER BY ts, id"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [FreeQuotaEvent(ts=_dt(r[0]), kind=r[1], reset_ts=_opt_dt(r[2])) for r in rows]

    def prune_quota_events(self, before: datetime) -> int:
        """Drop events older than ``before``; returns how many were dropped."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM free_quota_events WHERE ts < ?", (_ts(before),))
            return cur.rowcount

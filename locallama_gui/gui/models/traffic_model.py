"""The gateway's live traffic table: one row per request, newest appended as they come.

:meth:`TrafficTableModel.follow` is given a copy of the gateway's traffic (a bounded deque the
gateway's thread appends to) every second or so: rows that dropped off its front are removed
and new ones appended, so a sorted view keeps its selection and scroll position instead of
being reset every tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from locallama_gui.core.cost import format_usd
from locallama_gui.core.models import Tier
from locallama_gui.gui import theme
from locallama_gui.gui.models.cost_model import Column, RecordTableModel, money_sort

_Index = QModelIndex | QPersistentModelIndex
NONE = "—"


def _tokens(ev: Any) -> int | None:
    if ev.prompt_tokens is None and ev.completion_tokens is None:
        return None
    return (ev.prompt_tokens or 0) + (ev.completion_tokens or 0)


def _tokens_tip(ev: Any) -> str:
    if _tokens(ev) is None:
        return "The upstream reported no token counts"
    prompt = "?" if ev.prompt_tokens is None else f"{ev.prompt_tokens:,}"
    completion = "?" if ev.completion_tokens is None else f"{ev.completion_tokens:,}"
    return f"prompt {prompt} + completion {completion}"


def _served(ev: Any) -> str:
    if ev.served:
        return str(ev.served)
    return f"error {ev.status}" if ev.status >= 400 else NONE


def _tier(ev: Any) -> str:
    if not ev.tier:
        return NONE
    try:
        return theme.tier_label(Tier(ev.tier))
    except ValueError:
        return str(ev.tier)


def _ran(ev: Any) -> bool:
    return ev.served is not None and ev.status < 400


def _cost(ev: Any) -> str:
    if not _ran(ev):
        return NONE
    if ev.cost_usd is None:
        return "unknown"
    return "$0" if ev.cost_usd == 0 else format_usd(ev.cost_usd, 6)


def _saved(ev: Any) -> str:
    saved = ev.saved_usd
    if not _ran(ev) or saved is None:
        return NONE
    return format_usd(saved, 6)


def _row_tip(ev: Any) -> str:
    lines = [
        f"{ev.ts.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}  {ev.path}",
        f"HTTP {ev.status}{' (streamed)' if ev.streamed else ''}",
    ]
    if ev.error:
        from locallama_gui.sources.errors import redact

        lines.append(redact(str(ev.error))[:500])
    return "\n".join(lines)


TRAFFIC_COLUMNS: tuple[Column, ...] = (
    Column(
        "Time",
        lambda e: e.ts.astimezone().strftime("%H:%M:%S"),
        sort=lambda e: e.ts.timestamp(),
        tooltip=_row_tip,
    ),
    Column(
        "Client",
        lambda e: e.client,
        tooltip=lambda e: e.client,
        header_tip="From the request's User-Agent",
    ),
    Column(
        "Asked",
        lambda e: e.asked,
        tooltip=lambda e: e.asked,
        header_tip="The model the client asked for",
    ),
    Column("Served", _served, tooltip=_row_tip, header_tip="The model that answered"),
    Column("Tier", _tier),
    Column(
        "Tokens",
        lambda e: NONE if _tokens(e) is None else f"{_tokens(e):,}",
        sort=lambda e: -1 if _tokens(e) is None else _tokens(e),
        align_right=True,
        tooltip=_tokens_tip,
    ),
    Column(
        "Latency ms",
        lambda e: f"{e.latency_ms:,.0f}",
        sort=lambda e: float(e.latency_ms),
        align_right=True,
        header_tip="From the request's arrival to its last byte",
    ),
    Column(
        "Cost",
        _cost,
        sort=lambda e: money_sort(e.cost_usd if _ran(e) else None),
        align_right=True,
    ),
    Column(
        "Saved",
        _saved,
        sort=lambda e: money_sort(e.saved_usd if _ran(e) else None),
        align_right=True,
        header_tip="Against the baseline model of Settings (spend.baseline_model)",
    ),
)


class TrafficTableModel(RecordTableModel):
    """The gateway's traffic events (:class:`~locallama_gui.gateway.service.TrafficEvent`)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(TRAFFIC_COLUMNS, parent)

    def follow(self, events: Sequence[Any]) -> int:
        """Match the rows to ``events`` (oldest first); returns how many rows are new."""
        old = self._rows
        if not events:
            if old:
                self.set_rows([])
            return 0
        first = events[0]
        start = next((k for k, ev in enumerate(old) if ev is first), None)
        kept = 0 if start is None else len(old) - start
        if (
            start is None
            or kept > len(events)
            or any(a is not b for a, b in zip(old[start:], events, strict=False))
        ):
            self.set_rows(events)  # another gateway, or everything shown dropped off
            return len(events)
        if start:
            self.beginRemoveRows(QModelIndex(), 0, start - 1)
            del self._rows[:start]
            self.endRemoveRows()
        new = list(events[kept:])
        if new:
            n = len(self._rows)
            self.beginInsertRows(QModelIndex(), n, n + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()
        return len(new)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and index.isValid():
            if index.row() < len(self._rows) and self._rows[index.row()].status >= 400:
                return QColor(theme.error_colour())
            return None
        return super().data(index, role)


__all__ = ["TRAFFIC_COLUMNS", "TrafficTableModel"]

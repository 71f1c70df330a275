"""Big tables sort in their model: the order a proxy's own sort gives, selection kept."""

from __future__ import annotations

import random
from dataclasses import dataclass

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QTableView

from locallama_gui.gui.models.cost_model import (
    ROW_ROLE,
    Column,
    RecordTableModel,
    make_sort_proxy,
)


@dataclass(frozen=True)
class Rec:
    n: int
    cost: float
    name: str


COLUMNS = (
    Column("#", lambda r: str(r.n), lambda r: r.n, True),
    Column("Cost", lambda r: f"{r.cost:.2f}", lambda r: r.cost, True),
    Column("Name", lambda r: r.name),  # sorted on its text, case-insensitively
)


def _shown(view: QTableView) -> list[Rec]:
    proxy = view.model()
    return [proxy.index(k, 0).data(ROW_ROLE) for k in range(proxy.rowCount())]


def _views(qtbot, rows):
    out = []
    for in_model in (False, True):
        model = RecordTableModel(COLUMNS)
        view = QTableView()
        qtbot.addWidget(view)
        view.setModel(make_sort_proxy(model, view, sort_in_model=in_model))
        view.setSortingEnabled(True)
        model.set_rows(rows)
        out.append((model, view))
    return out


def test_a_model_sorting_itself_orders_as_the_proxy_does(qtbot):
    rng = random.Random(4)
    names = ["alpha", "Beta", "beta", "gamma", "Alpha"]
    rows = [Rec(k, rng.choice([0.5, 1.25, 3.0, 0.5]), rng.choice(names)) for k in range(300)]
    rng.shuffle(rows)
    (_, qt_view), (model, py_view) = _views(qtbot, rows)
    for column in (1, 2, 0, 1):
        for order in (Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder):
            qt_view.sortByColumn(column, order)
            py_view.sortByColumn(column, order)
            assert _shown(py_view) == _shown(qt_view), (column, order)  # ties in set order
    model.sort(-1)
    assert _shown(py_view) == rows  # no column: the order the rows were set in


def test_the_sort_holds_for_new_rows_and_keeps_the_selection(qtbot):
    rows = [Rec(k, float((k * 37) % 101), f"m{k}") for k in range(2000)]
    (_, _), (model, view) = _views(qtbot, rows)
    view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert [r.cost for r in _shown(view)] == sorted((r.cost for r in rows), reverse=True)
    picked = next(r for r in rows if r.n == 1234)
    proxy = view.model()
    row = _shown(view).index(picked)
    view.selectionModel().select(
        proxy.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    (selected,) = view.selectionModel().selectedRows()
    assert selected.data(ROW_ROLE) == picked and selected.row() == 1234
    model.set_rows(reversed(rows))  # a new run's rows: shown in the column's order still
    assert [r.n for r in _shown(view)] == list(range(2000))

"""The layout the work panes share: inputs on the left, results on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget


def inputs_and_results(
    host: QWidget, inputs: QWidget, results: QWidget, inputs_width: int = 360
) -> QSplitter:
    """Fill ``host`` with a splitter: ``inputs`` (fixed share) beside ``results`` (grows)."""
    split = QSplitter(Qt.Orientation.Horizontal)
    split.addWidget(inputs)
    split.addWidget(results)
    split.setStretchFactor(0, 0)
    split.setStretchFactor(1, 1)
    split.setSizes([inputs_width, 1280 - inputs_width])
    split.setChildrenCollapsible(False)
    outer = QVBoxLayout(host)
    outer.setContentsMargins(8, 8, 8, 8)
    outer.addWidget(split)
    return split

"""The Catalogue pane through its real widgets: filter, sort, search, details, refresh."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, Signal

from locallama_gui.core.catalogue import CatalogueDiff, Repriced
from locallama_gui.core.models import (
    LocalDetails,
    ModelInfo,
    PriceOverride,
    Pricing,
    Skipped,
    Source,
    Tier,
)
from locallama_gui.core.settings import Settings
from locallama_gui.gui.controller import AppController
from locallama_gui.gui.models.catalogue_model import MODEL_ROLE, Col
from locallama_gui.gui.panes.catalogue import CataloguePane, diff_summary
from locallama_gui.services.catalogue import LoadedCatalogue
from locallama_gui.services.facade import Services
from locallama_gui.services.live import SourceStatus
from locallama_gui.services.refresh import RefreshResult

M = Decimal("0.000001")  # $1 per million tokens, per token


def paid(mid: str, name: str, p_in: str, p_out: str, ctx: int, **kw: Any) -> ModelInfo:
    prices = {"prompt": Decimal(p_in) * M, "completion": Decimal(p_out) * M}
    overrides = kw.pop("overrides", ())
    return ModelInfo(
        id=mid,
        name=name,
        source=Source.OPENROUTER,
        tier=Tier.PAID,
        pricing=Pricing(prices=MappingProxyType(prices), overrides=overrides),
        context_length=ctx,
        **kw,
    )


def catalogue_models() -> tuple[ModelInfo, ...]:
    return (
        paid("acme/cheap", "Acme Cheap", "0.5", "1.5", 32_768, max_output_tokens=4_096),
        paid("acme/mid", "Acme Mid", "2", "8", 128_000, supported_parameters=("tools",)),
        paid("acme/pricey", "Acme Pricey", "10", "30", 200_000, created=1_750_000_000),
        paid(
            "acme/tiered",
            "Acme Tiered",
            "3",
            "15",
            1_000_000,
            overrides=(
                PriceOverride(
                    prices=MappingProxyType({"prompt": Decimal(6) * M, "completion": 22 * M}),
                    min_prompt_tokens=200_000,
                ),
                PriceOverride(
                    prices=MappingProxyType({"prompt": Decimal("1.5") * M}),
                    utc_start=2230,
                    utc_end=800,
                ),
            ),
            supported_parameters=("tools", "temperature", "response_format"),
        ),
        ModelInfo(
            id="meta/llama-3.3-70b:free",
            name="Llama 3.3 70B (free)",
            source=Source.OPENROUTER,
            tier=Tier.FREE,
            pricing=Pricing(prices=MappingProxyType({"prompt": Decimal(0), "completion": 0})),
            context_length=65_536,
            supported_parameters=("tools",),
        ),
        ModelInfo(
            id="llama3.2:3b",
            name="llama3.2:3b",
            source=Source.OLLAMA,
            tier=Tier.LOCAL,
            context_length=8_192,
            local=LocalDetails(
                server_url="http://127.0.0.1:11434",
                size_bytes=2_019_393_189,
                parameter_size="3.2B",
                quantization="Q4_K_M",
                loaded=True,
            ),
        ),
        ModelInfo(
            id="openrouter/auto",
            name="Auto Router",
            source=Source.OPENROUTER,
            tier=Tier.VARIABLE,
            pricing=Pricing(prices=MappingProxyType({"prompt": Decimal(-1), "completion": -1})),
            context_length=2_000_000,
        ),
        ModelInfo(
            id="acme/image-gen",
            name="Acme Image",
            source=Source.OPENROUTER,
            tier=Tier.UNKNOWN,
            pricing=Pricing(prices=MappingProxyType({"prompt": Decimal(0)})),
            context_length=None,
        ),
    )


def loaded(models: tuple[ModelInfo, ...] | None = None) -> LoadedCatalogue:
    return LoadedCatalogue(
        models=models if models is not None else catalogue_models(),
        skipped=(),
        origin="snapshot",
        label="bundled snapshot of 2026-08-14",
        fetched_at=datetime(2026, 8, 14, tzinfo=UTC),
        notice="Offline catalogue: the bundled OpenRouter snapshot of 2026-08-14.",
    )


class RefreshingController(AppController):
    """An AppController with the refresh signals the refresh service gives it."""

    refresh_started = Signal()
    refresh_progress = Signal(int, int)
    refresh_finished = Signal(object)
    refresh_failed = Signal(str)

    def __init__(self, factory: Any, parent: QObject | None = None) -> None:
        super().__init__(services_factory=factory, parent=parent)
        self.refresh_calls = 0
        self.cancel_calls = 0

    def refresh(self) -> None:
        self.refresh_calls += 1
        self.refresh_started.emit()

    def cancel_refresh(self) -> None:
        self.cancel_calls += 1


def shut_down(qtbot, loop, controller) -> None:
    """Stop the controller and let the loop finish its cancelled tasks (none left dangling)."""
    controller.shutdown()
    qtbot.waitUntil(lambda: all(t.done() for t in asyncio.all_tasks(loop)), timeout=5000)


@pytest.fixture
def controller(qtbot, qloop):
    c = RefreshingController(lambda: Services(settings=Settings(), catalogue=loaded()))
    yield c
    shut_down(qtbot, qloop, c)


@pytest.fixture
def pane(qtbot, controller):
    p = CataloguePane(controller)
    qtbot.addWidget(p)
    p.resize(1200, 700)
    p.show()
    controller.start()
    qtbot.waitUntil(lambda: p.model.rowCount() == len(catalogue_models()), timeout=5000)
    return p


def column(pane: CataloguePane, col: Col, role: int = Qt.ItemDataRole.DisplayRole) -> list:
    return [pane.proxy.index(r, col).data(role) for r in range(pane.proxy.rowCount())]


def ids(pane: CataloguePane) -> list[str]:
    return [m.id for m in column(pane, Col.NAME, MODEL_ROLE)]


def test_prices_follow_the_cost_rules(pane):
    by_id = dict(zip(ids(pane), column(pane, Col.INPUT), strict=True))
    assert by_id["meta/llama-3.3-70b:free"] == "$0"
    assert by_id["llama3.2:3b"] == "$0"
    assert by_id["openrouter/auto"] == "variable"
    assert by_id["acme/image-gen"] == "unknown"  # never $0
    assert by_id["acme/cheap"] == "$0.50"
    tiers = dict(zip(ids(pane), column(pane, Col.TIER), strict=True))
    assert tiers["meta/llama-3.3-70b:free"] == "Free"
    assert tiers["llama3.2:3b"] == "Local"
    assert tiers["openrouter/auto"] == "Variable"


def test_sort_by_price_is_numeric_and_unknown_sits_last(pane):
    pane.table.sortByColumn(Col.INPUT, Qt.SortOrder.AscendingOrder)
    order = ids(pane)
    assert order[-2:] == ["acme/image-gen", "openrouter/auto"]  # unknown + variable last
    paid_order = [i for i in order if i.startswith("acme/") and i != "acme/image-gen"]
    # $0.50 < $2 < $3 < $10: a text sort would put "$10.00" before "$2.00"
    assert paid_order == ["acme/cheap", "acme/mid", "acme/tiered", "acme/pricey"]
    assert set(order[:2]) == {"meta/llama-3.3-70b:free", "llama3.2:3b"}

    pane.table.sortByColumn(Col.INPUT, Qt.SortOrder.DescendingOrder)
    order = ids(pane)
    assert order[0] == "acme/pricey"
    assert set(order[-2:]) == {"acme/image-gen", "openrouter/auto"}  # still last


def test_sort_by_context_is_numeric(pane):
    pane.table.sortByColumn(Col.CONTEXT, Qt.SortOrder.DescendingOrder)
    order = ids(pane)
    assert order[:3] == ["openrouter/auto", "acme/tiered", "acme/pricey"]
    assert order[-1] == "acme/image-gen"  # unknown context
    pane.table.sortByColumn(Col.CONTEXT, Qt.SortOrder.AscendingOrder)
    assert ids(pane)[:3] == ["llama3.2:3b", "acme/cheap", "meta/llama-3.3-70b:free"]


def test_filters_by_tier_source_context_price_and_capability(pane, qtbot):
    pane.tier_combo.setCurrentIndex(pane.tier_combo.findText("Free"))
    assert ids(pane) == ["meta/llama-3.3-70b:free"]
    pane.tier_combo.setCurrentIndex(0)

    pane.source_combo.setCurrentIndex(pane.source_combo.findData(Source.OLLAMA))
    assert ids(pane) == ["llama3.2:3b"]
    pane.source_combo.setCurrentIndex(0)

    pane.min_context_combo.setCurrentIndex(pane.min_context_combo.findData(128_000))
    assert set(ids(pane)) == {"acme/mid", "acme/pricey", "acme/tiered", "openrouter/auto"}
    pane.min_context_combo.setCurrentIndex(0)

    pane.max_price_combo.setCurrentIndex(pane.max_price_combo.findText("≤ $3 / 1M"))
    # output prices count too; variable and unknown prices never pass a price limit
    assert set(ids(pane)) == {"acme/cheap", "meta/llama-3.3-70b:free", "llama3.2:3b"}
    pane.max_price_combo.setCurrentIndex(0)

    qtbot.mouseClick(pane.cap_buttons["tools"], Qt.MouseButton.LeftButton)
    assert set(ids(pane)) == {"acme/mid", "acme/tiered", "meta/llama-3.3-70b:free"}
    assert pane.count_label.text() == "Showing 3 of 8 models"


def test_search_is_debounced_and_word_order_free(pane, qtbot):
    pane.search_edit.setText("70b llama")
    # nothing filtered yet: the search waits for typing to pause
    assert pane.proxy.rowCount() == len(catalogue_models())
    assert pane._search_timer.isActive()
    qtbot.waitUntil(lambda: pane.proxy.rowCount() == 1, timeout=2000)
    assert ids(pane) == ["meta/llama-3.3-70b:free"]

    pane.search_edit.setText("LLAMA ollama")  # the source is searchable too
    qtbot.waitUntil(lambda: ids(pane) == ["llama3.2:3b"], timeout=2000)


def test_empty_state_when_nothing_matches(pane, qtbot):
    pane.search_edit.setText("no such model anywhere")
    qtbot.waitUntil(lambda: pane.table_stack.currentWidget() is pane.empty_state, timeout=2000)
    assert pane.empty_state.title == "No model matches"
    assert pane.empty_state.isVisible()
    qtbot.mouseClick(pane.empty_state.button, Qt.MouseButton.LeftButton)
    assert pane.search_edit.text() == ""
    assert pane.table_stack.currentWidget() is pane.table
    assert pane.proxy.rowCount() == len(catalogue_models())


def test_details_show_price_tiers_and_time_windows(pane):
    assert pane.select_model("acme/tiered")
    text = pane.details.text()
    assert "acme/tiered" in text
    assert "$3.00 / 1M tokens" in text
    assert "When prompt over 200,000 tokens" in text
    assert "$22.00 / 1M tokens" in text
    assert "22:30–08:00 UTC" in text
    assert "tools, temperature, response_format" in text
    assert "No runs recorded yet" in text


def test_details_of_local_and_variable_models(pane):
    assert pane.select_model("llama3.2:3b")
    text = pane.details.text()
    assert "runs on your machine" in text
    assert "Q4_K_M" in text and "3.2B" in text and "2.0 GB" in text
    assert "yes (in memory)" in text
    assert pane.select_model("openrouter/auto")
    assert "unknown in advance" in pane.details.text()


def test_actions_emit_the_model_id(pane, qtbot):
    assert pane.select_model("acme/mid")
    with qtbot.waitSignal(pane.estimate_requested) as est:
        qtbot.mouseClick(pane.details.estimate_button, Qt.MouseButton.LeftButton)
    assert est.args == ["acme/mid"]
    with qtbot.waitSignal(pane.route_pinned_requested) as route:
        qtbot.mouseClick(pane.details.route_button, Qt.MouseButton.LeftButton)
    assert route.args == ["acme/mid"]


def test_offline_snapshot_banner(pane):
    assert pane.snapshot_banner.isVisible()
    assert "2026-08-14" in pane.snapshot_banner.text
    assert pane.snapshot_banner.action_button.text() == "Refresh now"


def test_refresh_with_progress_and_a_failing_source(pane, controller, qtbot):
    qtbot.mouseClick(pane.refresh_button, Qt.MouseButton.LeftButton)
    assert controller.refresh_calls == 1
    assert pane.progress.isVisible() and pane.cancel_button.isVisible()
    assert not pane.refresh_button.isEnabled()
    controller.refresh_progress.emit(1, 3)
    assert (pane.progress.value(), pane.progress.maximum()) == (1, 3)

    diff = CatalogueDiff(
        added=("meta/llama-3.3-70b:free",),
        removed=("old/model",),
        repriced=(Repriced("acme/mid", M, 2 * M, 2 * M, 8 * M),),
    )
    result = RefreshResult(
        sources=(
            SourceStatus("openrouter", "https://openrouter.ai/api/v1", True),
            SourceStatus("ollama", "http://127.0.0.1:11434", False, "connection refused"),
        ),
        catalogue=loaded(),
        diff=diff,
        fetched_at=datetime(2026, 8, 15, tzinfo=UTC),
        duration_ms=12.0,
    )
    controller.refresh_finished.emit(result)
    assert not pane.progress.isVisible() and not pane.cancel_button.isVisible()
    banner = pane.refresh_banner.text
    assert "1 new free model (meta/llama-3.3-70b:free)" in banner
    assert "1 removed (old/model)" in banner
    assert "acme/mid $1.00→$2.00 in" in banner
    assert "Not reached: Ollama: connection refused" in banner
    assert pane.refresh_banner.tone == "warning"
    assert pane.model.rowCount() == len(catalogue_models())  # the table is kept


def test_refresh_banner_counts_unreadable_entries(pane, controller):
    pane.refresh_now()
    skipped = (
        Skipped("pricing.prompt is out of range: '1e400'", id="acme/a", index=3),
        Skipped("missing id", index=9),
    )
    result = RefreshResult(
        sources=(
            SourceStatus(
                "openrouter",
                "https://openrouter.ai/api/v1",
                True,
                skipped=skipped,
                kept_unreadable=2,
            ),
        ),
        catalogue=loaded(),
        diff=CatalogueDiff(),
        fetched_at=datetime(2026, 8, 15, tzinfo=UTC),
        duration_ms=12.0,
    )
    controller.refresh_finished.emit(result)
    text = pane.refresh_banner.text
    assert "nothing changed" in text
    assert "OpenRouter: 2 entries could not be read; 2 kept their last good record." in text
    assert pane.refresh_banner.tone == "warning"


def test_refresh_failure_keeps_the_catalogue(pane, controller, qtbot):
    pane.refresh_now()
    controller.refresh_failed.emit("OpenRouter did not answer")
    assert pane.refresh_banner.tone == "error"
    assert "Refresh failed: OpenRouter did not answer" in pane.refresh_banner.text
    assert "bundled snapshot of 2026-08-14" in pane.refresh_banner.text
    assert pane.refresh_button.isEnabled()
    assert pane.stack.currentIndex() == pane.PAGE_TABLE
    qtbot.mouseClick(pane.refresh_banner.action_button, Qt.MouseButton.LeftButton)
    assert controller.refresh_calls == 2


def test_cancel_refresh(pane, controller, qtbot):
    pane.refresh_now()
    qtbot.mouseClick(pane.cancel_button, Qt.MouseButton.LeftButton)
    assert controller.cancel_calls == 1
    assert not pane.progress.isVisible()
    assert "cancelled" in pane.refresh_banner.text


@pytest.mark.expected_warning_logs
def test_loading_then_error_state(qtbot, qloop):
    def broken() -> Services:
        raise OSError("disk full")

    c = AppController(services_factory=broken)
    p = CataloguePane(c)
    qtbot.addWidget(p)
    assert p.stack.currentIndex() == p.PAGE_LOADING
    c.start()
    qtbot.waitUntil(lambda: p.stack.currentIndex() == p.PAGE_ERROR, timeout=5000)
    assert "disk full" in p.error_state.detail
    shut_down(qtbot, qloop, c)


def test_empty_catalogue_state(qtbot, qloop):
    c = AppController(services_factory=lambda: Services(catalogue=loaded(())))
    p = CataloguePane(c)
    qtbot.addWidget(p)
    c.start()
    qtbot.waitUntil(lambda: p.stack.currentIndex() == p.PAGE_TABLE, timeout=5000)
    assert p.table_stack.currentWidget() is p.empty_state
    assert p.empty_state.title == "The catalogue is empty"
    shut_down(qtbot, qloop, c)


def test_diff_summary_without_changes():
    assert diff_summary(CatalogueDiff()) == "Catalogue refreshed: nothing changed."

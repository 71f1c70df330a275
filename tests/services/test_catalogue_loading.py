"""Where the catalogue comes from: the store, the bundled snapshot, a saved file."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from locallama_gui.core.catalogue import parse_ollama_tags, parse_openrouter_models
from locallama_gui.core.models import Source
from locallama_gui.core.routing import Task
from locallama_gui.services.catalogue import (
    CatalogueLoadError,
    load_catalogue,
    load_from_file,
    load_snapshot,
)
from locallama_gui.services.facade import Services, UnknownModel
from locallama_gui.store.db import Store


def test_empty_store_falls_back_to_the_snapshot_and_says_so():
    with Store() as store:
        loaded = load_catalogue(store)
    assert loaded.origin == "snapshot"
    assert len(loaded.models) == 414
    assert loaded.fetched_at == datetime(2026, 8, 14, tzinfo=UTC)
    assert "2026-08-14" in loaded.label
    assert loaded.notice and "snapshot" in loaded.notice


def test_stored_openrouter_catalogue_wins_over_the_snapshot(data_dir):
    models = parse_openrouter_models(
        json.loads((data_dir / "openrouter/models-2025-12-18.json").read_text())
    ).models
    when = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    with Store() as store:
        store.save_catalogue("openrouter", when, models)
        loaded = load_catalogue(store)
    assert loaded.origin == "store"
    assert len(loaded.models) == 349
    assert loaded.notice is None
    assert "2026-11-01 09:30" in loaded.label


def test_stored_local_models_merge_with_the_snapshot(data_dir):
    tags = json.loads((data_dir / "ollama/tags-2026-04.json").read_text())
    local = parse_ollama_tags(tags, "http://127.0.0.1:11434").models
    with Store() as store:
        store.save_catalogue("ollama", datetime(2026, 11, 1, tzinfo=UTC), local)
        loaded = load_catalogue(store)
    sources = {m.source for m in loaded.models}
    assert sources == {Source.OPENROUTER, Source.OLLAMA}
    assert len(loaded.models) == 414 + len(local)
    assert loaded.notice  # OpenRouter still comes from the snapshot: say so


def test_load_from_file_reports_what_is_wrong(tmp_path):
    with pytest.raises(CatalogueLoadError, match="no such file"):
        load_from_file(tmp_path / "missing.json")
    (tmp_path / "dir").mkdir()
    with pytest.raises(CatalogueLoadError, match="folder"):
        load_from_file(tmp_path / "dir")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CatalogueLoadError):
        load_from_file(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"data": [1, 2, 3]}')
    with pytest.raises(CatalogueLoadError, match="none of its 3 entries"):
        load_from_file(wrong)


def test_load_from_file_accepts_a_bom_and_a_bare_array(tmp_path, data_dir):
    data = json.loads((data_dir / "openrouter/models-2026-08-14.json").read_text())["data"]
    path = tmp_path / "bare.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(data[:5]).encode())
    loaded = load_from_file(path)
    assert len(loaded.models) == 5 and loaded.origin == "file"


def test_snapshot_has_no_descriptions():
    snap = load_snapshot()
    assert all(not hasattr(m, "description") for m in snap.models)


def test_services_find_model_suggests_close_ids():
    services = Services.open()
    try:
        assert services.find_model("openai/gpt-oss-20b:free").id == "openai/gpt-oss-20b:free"
        with pytest.raises(UnknownModel, match="did you mean"):
            services.find_model("openai/gpt-oss-20b:fre")
    finally:
        services.close()


def test_services_quota_is_restored_from_the_store():
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    with Store() as store:
        for minute in range(30):
            store.add_quota_event(now.replace(hour=10, minute=minute), "request")
        store.add_quota_event(now.replace(hour=9), "request")
        # yesterday's requests do not count
        store.add_quota_event(datetime(2026, 11, 25, 23, 59, tzinfo=UTC), "request")
    services = Services.open()
    services.clock = lambda: now
    try:
        status = services.quota_status(now)
        assert status.used_day == 31
        assert status.remaining_day == 19
    finally:
        services.close()


@pytest.mark.expected_warning_logs
def test_services_open_survives_a_corrupt_database(_isolated_home):
    from locallama_gui.store.paths import database_path

    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    services = Services.open()
    try:
        assert any("moved" in n or "aside" in n or "corrupt" in n.lower() for n in services.notices)
        decision = services.route(Task(prompt_tokens=10))
        assert decision.chosen is not None
    finally:
        services.close()


def test_invalid_settings_file_is_reported_and_defaults_used():
    from locallama_gui.store.paths import settings_path

    settings_path().write_text('[routing]\nfallback_depth = "lots"\n')
    services = Services.open()
    try:
        assert any("routing.fallback_depth" in n for n in services.notices)
        assert services.settings.routing.fallback_depth == 4
    finally:
        services.close()

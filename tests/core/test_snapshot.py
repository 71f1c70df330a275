"""The bundled OpenRouter snapshot: facts only, loadable, and never stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from locallama_gui.core.catalogue import (
    Catalogue,
    CatalogueFormatError,
    model_to_facts,
    parse_models_payload,
    parse_openrouter_models,
    parse_snapshot,
    snapshot_payload,
)
from locallama_gui.core.models import Tier

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "packaging" / "build_snapshot.py"
SNAPSHOT = REPO / "resources" / "openrouter-snapshot.json"
SRC_REL = "openrouter/models-2026-08-14.json"


def run_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


@pytest.fixture
def committed() -> dict[str, Any]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_committed_snapshot_is_what_the_script_produces_now(data_dir, tmp_path):
    out = tmp_path / "snap.json"
    done = run_script(data_dir / SRC_REL, out)
    assert done.returncode == 0, done.stderr
    assert "414 models" in done.stdout
    assert out.read_bytes() == SNAPSHOT.read_bytes()


def test_script_is_deterministic(data_dir, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run_script(data_dir / SRC_REL, a).returncode == 0
    assert run_script(data_dir / SRC_REL, b).returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_snapshot_header_and_size(committed):
    assert committed["format"] == 1
    assert committed["source"] == "openrouter"
    assert committed["fetched_at"] == "2026-08-14"
    assert len(committed["models"]) == 414
    ids = [m["id"] for m in committed["models"]]
    assert ids == sorted(ids)
    assert SNAPSHOT.stat().st_size < 400_000


def test_snapshot_has_no_descriptions(committed):
    assert "description" not in keys_anywhere(committed)
    assert "description" not in SNAPSHOT.read_text(encoding="utf-8")


def test_snapshot_round_trips_to_the_parsed_capture(data_dir, committed):
    raw = json.loads((data_dir / SRC_REL).read_text(encoding="utf-8"))
    parsed = Catalogue(parse_openrouter_models(raw).models)
    result, fetched_at = parse_snapshot(committed)
    assert fetched_at == "2026-08-14"
    assert result.skipped == ()
    assert len(result.models) == len(parsed)
    for m in result.models:
        assert parsed.get(m.id) == m, m.id
    loaded = Catalogue(result.models)
    assert len(loaded.filter(tier=Tier.FREE)) == 18
    assert loaded.get("openrouter/auto").tier is Tier.VARIABLE
    # The auto-detecting parser also recognises a snapshot.
    assert parse_models_payload(committed) == result


def test_snapshot_payload_keeps_first_of_duplicate_ids_and_sorts(data_dir):
    raw = json.loads((data_dir / SRC_REL).read_text(encoding="utf-8"))
    models = parse_openrouter_models(raw).models
    doc = snapshot_payload([*reversed(models), *models], None)
    assert doc["fetched_at"] is None
    assert [m["id"] for m in doc["models"]] == sorted(m.id for m in models)
    result, fetched_at = parse_snapshot(json.loads(json.dumps(doc)))
    assert fetched_at is None and len(result.models) == len(models)


def test_bad_snapshot_entries_are_skipped_not_fatal(committed):
    doc = dict(committed)
    good = committed["models"][0]
    doc["models"] = [good, "junk", {**good, "id": None}, {**good, "id": "x", "tier": "gratis"}]
    result, _ = parse_snapshot(doc)
    assert [m.id for m in result.models] == [good["id"]]
    assert [s.index for s in result.skipped] == [1, 2, 3]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"format": 1},
        {"format": 2, "models": [], "fetched_at": "2026-08-14"},
        {"format": 1, "models": [], "fetched_at": 20260814},
    ],
)
def test_parse_snapshot_rejects_wrong_shapes(payload):
    with pytest.raises(CatalogueFormatError):
        parse_snapshot(payload)


def test_date_comes_from_name_or_flag(data_dir, tmp_path):
    undated = tmp_path / "capture.json"
    undated.write_bytes((data_dir / SRC_REL).read_bytes())
    out = tmp_path / "out.json"
    refused = run_script(undated, out)
    assert refused.returncode == 2
    assert "--date" in refused.stderr
    assert not out.exists()
    done = run_script(undated, out, "--date", "2026-08-01")
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["fetched_at"] == "2026-08-01"


def test_small_capture_facts_match_model_to_facts(tmp_path):
    src = tmp_path / "models-2026-01-02.json"
    entry = {
        "id": "acme/one:free",
        "name": "Acme: One (free)",
        "description": "long marketing text",
        "context_length": 4096,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "pricing": {"prompt": "0", "completion": "0"},
        "top_provider": {"max_completion_tokens": 512, "is_moderated": False},
        "supported_parameters": ["tools"],
    }
    src.write_text(json.dumps({"data": [entry, "bad"]}), encoding="utf-8")
    out = tmp_path / "snap.json"
    done = run_script(src, out)
    assert done.returncode == 0, done.stderr
    assert "1 models, 1 skipped" in done.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["fetched_at"] == "2026-01-02"
    (model,) = parse_openrouter_models([entry]).models
    assert doc["models"] == [model_to_facts(model)]
    assert "description" not in out.read_text(encoding="utf-8")

"""The ``scale_*`` figures of ``locallama bench``: the synthetic catalogue they route over and
the notes read off them (the keys a run reports: tests/cli/test_core_commands.py). No timing
is asserted."""

from __future__ import annotations

from decimal import Decimal

import pytest

from locallama_gui.core.models import Tier
from locallama_gui.core.routing import CatalogueIndex
from locallama_gui.services.bench import (
    clone_id,
    scale_notes,
    scaled_catalogue,
    synthetic_local_models,
)
from locallama_gui.services.catalogue import load_snapshot


@pytest.fixture(scope="module")
def base():
    return [*load_snapshot().models, *synthetic_local_models(20)]


def _all_prices(model):
    if model.pricing is None:
        return []
    prices = list(model.pricing.prices.values())
    for o in model.pricing.overrides:
        prices.extend(o.prices.values())
    return prices


def test_clone_ids_keep_vendor_variant_and_alias_family():
    assert clone_id("openai/gpt-5.6-sol", 0) == "openai/gpt-5.6-sol"
    assert clone_id("openai/gpt-5.6-sol", 3) == "openai/s3~gpt-5.6-sol"
    assert clone_id("meta/llama-4:free", 2) == "meta/s2~llama-4:free"
    assert clone_id("~anthropic/claude-sonnet-latest", 7) == "~anthropic/s7~claude-sonnet-latest"
    assert clone_id("qwen3:8b-bench1", 4) == "s4~qwen3:8b-bench1"


def test_scaled_catalogue_is_n_times_the_models(base):
    n = 3
    models = scaled_catalogue(base, n)
    assert len(models) == n * len(base)
    assert len({m.id for m in models}) == len(models)
    assert [m.id for m in models[: len(base)]] == [m.id for m in base]
    for m in models:
        assert all(isinstance(v, Decimal) for v in _all_prices(m))
    for k in range(n):
        copy = models[k * len(base) : (k + 1) * len(base)]
        factor = Decimal(1000 + k) / 1000
        for original, clone in zip(base, copy, strict=True):
            assert clone.tier is original.tier
            assert clone.id == clone_id(original.id, k)
            if original.tier is Tier.FREE:
                assert clone.is_free and all(v == 0 for v in _all_prices(clone))
            if original.pricing is not None and original.pricing.is_variable:
                assert clone.pricing is not None and clone.pricing.is_variable
            for key, v in (original.pricing.prices if original.pricing else {}).items():
                got = clone.pricing.prices[key]
                assert got == (v * factor if v > 0 else v)


def test_the_index_sees_n_times_distinct_models(base):
    one = CatalogueIndex(scaled_catalogue(base, 1))
    three = CatalogueIndex(scaled_catalogue(base, 3))
    assert len(three) == 3 * len(one)
    assert len(set(three.underlying)) == 3 * len(set(one.underlying))
    # an alias of copy 2 redirects to copy 2 of its target, not to the original
    aliases = [i for i, m in enumerate(three.models) if "/s2~" in m.id and m.id.startswith("~")]
    resolved = [i for i in aliases if three.underlying[i] != i]
    assert resolved
    for i in resolved:
        assert "/s2~" in three.models[three.underlying[i]].id


def test_notes_name_only_the_figures_growing_faster_than_the_work():
    notes = scale_notes(
        {
            "scale_route_p50_growth_10x": 9.5,
            "scale_route_p50_growth_100x": 131.0,
            "scale_index_build_growth_100x": 900.0,
            "scale_sim_seconds_growth_10x": 12.0,
            "scale_sim_peak_rss_growth_10x": None,
            "scale_route_p50_us_100x": 5000.0,
        }
    )
    assert len(notes) == 2
    assert notes[0].startswith("route p50: 131x at 100x the catalogue")
    assert notes[1].startswith("index build time: 900x at 100x the catalogue")

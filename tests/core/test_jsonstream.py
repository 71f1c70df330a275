"""Element-by-element JSON gives exactly what the json module gives."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locallama_gui.core import jsonstream

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([None, 2]), st.integers(min_value=0, max_value=3))
def test_loads_equals_json_loads(value, indent, depth):
    text = json.dumps(value, indent=indent)
    assert jsonstream.loads(text, depth=depth) == json.loads(text)


def test_real_catalogue_round_trips(data_dir):
    raw = (data_dir / "openrouter/models-2026-08-14.json").read_bytes()
    assert jsonstream.loads(raw) == json.loads(raw)


@pytest.mark.parametrize(
    "text", ["", "[1,", "[1 2]", '{"a" 1}', '{"a":1,}', "[1]x", "{1:2}", '{"a":[1,2}']
)
def test_bad_json_raises_like_json(text):
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        jsonstream.loads(text)


def test_byte_order_mark_is_accepted():
    assert jsonstream.loads("\ufeff[1, 2]".encode()) == [1, 2]


@settings(deadline=None)
@given(st.lists(json_values, max_size=10))
def test_dumps_list_equals_json_dumps(items):
    assert jsonstream.dumps_list(items) == json.dumps(items)
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    assert jsonstream.dumps_list(items, **compact) == json.dumps(items, **compact)

"""The run's kept JSON encoders write what json.dumps writes (payloads, fingerprints)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commsbot.text.json_encoding import encoder

_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_VALUES, st.booleans())
def test_the_same_text_as_json_dumps(value: Any, ensure_ascii: bool) -> None:
    assert encoder(ensure_ascii=ensure_ascii)(value) == json.dumps(value, ensure_ascii=ensure_ascii)


def test_default_is_used_for_other_types() -> None:
    row = {"id": 1, "title": "Plzeň 🎨", "day": dt.date(2026, 1, 2), "tags": ("a", "b")}
    assert encoder(default=str)(row) == json.dumps(row, default=str)


def test_without_default_other_types_are_refused_as_json_dumps_refuses_them() -> None:
    with pytest.raises(TypeError, match="Object of type date is not JSON serializable"):
        encoder()({"day": dt.date(2026, 1, 2)})

"""The reusable encoders write exactly what ``json.dumps`` writes with the same options."""

from __future__ import annotations

import json
import math

import pytest

from durable_ext.core.wire.jsontext import dumps, dumps_compact, text_encoder

VALUES = [
    None,
    True,
    0,
    -12345678901234567890,
    1.5,
    1e300,
    "",
    "plain",
    'quote " backslash \\ newline \n tab \t',
    "ünïcødé ☃ \U0001f600 \ud800",
    [],
    {},
    [1, "two", None, [3, [4]], {"k": "v"}],
    {"EventType": 4, "EventId": 0, "Timestamp": "2026-12-06T15:30:01.123456Z", "Input": '"x"', "Tags": None},
    {"nested": {"deeper": {"list": [1.25, False, {"ü": "☃"}]}}, "b": [None]},
    ("a", "tuple"),
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_text_is_json_dumps_text(value):
    assert dumps(value) == json.dumps(value)
    assert dumps_compact(value) == json.dumps(value, separators=(",", ":"))
    utf8 = text_encoder(ensure_ascii=False, allow_nan=False)
    assert utf8(value) == json.dumps(value, ensure_ascii=False, allow_nan=False)


def test_non_finite_numbers_and_values_json_cannot_write_fail_as_with_json_dumps():
    for number in (math.nan, math.inf, -math.inf):
        assert dumps([number]) == json.dumps([number])
        with pytest.raises(ValueError):
            text_encoder(allow_nan=False)([number])
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"when": object()})

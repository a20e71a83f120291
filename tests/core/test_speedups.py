from datetime import UTC, datetime, timedelta

from dateutil.parser import parse as dateutil_parse

from durable_ext.core.wire import format_datetime
from durable_ext.functions.speedups import _fast_parser


def test_fast_timestamp_parser_returns_exactly_what_dateutil_returns():
    parse = _fast_parser(dateutil_parse)
    start = datetime(2024, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
    for i in range(200):
        text = format_datetime(start + timedelta(seconds=i * 3571.123457))
        fast, slow = parse(text), dateutil_parse(text)
        assert fast == slow and repr(fast) == repr(slow)


def test_other_formats_fall_back_to_dateutil():
    parse = _fast_parser(dateutil_parse)
    for text in ("2024-05-01T10:00:00.1234567Z", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00+02:00"):
        assert parse(text) == dateutil_parse(text)

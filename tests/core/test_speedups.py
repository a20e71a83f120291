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


def test_the_executors_payload_class_is_built_once_and_holds_the_same_values():
    import collections

    from durable_ext.functions.speedups import _remembered

    namedtuple = _remembered(collections.namedtuple)
    first = namedtuple("SetTaskValuePayload", ("is_success", "task_id_key"))
    assert namedtuple("SetTaskValuePayload", ("is_success", "task_id_key")) is first
    assert namedtuple("Other", ("is_success", "task_id_key")) is not first
    fresh = collections.namedtuple("SetTaskValuePayload", ("is_success", "task_id_key"))
    assert first(True, "TaskScheduledId") == fresh(True, "TaskScheduledId")
    is_success, key = first(False, "TimerId")
    assert (is_success, key) == (False, "TimerId") and first._fields == fresh._fields


def test_installed_the_sdk_executor_still_replays_with_its_table():
    from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

    from durable_ext.functions import speedups

    speedups.install()
    a, b = TaskOrchestrationExecutor(), TaskOrchestrationExecutor()
    assert a.event_to_SetTaskValuePayload == b.event_to_SetTaskValuePayload
    assert type(next(iter(a.event_to_SetTaskValuePayload.values()))) is type(
        next(iter(b.event_to_SetTaskValuePayload.values()))
    )

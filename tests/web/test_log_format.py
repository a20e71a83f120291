"""Structured host logs: records carry instance_id / function_name / invocation_id; JSON lines on request."""

from __future__ import annotations

import io
import json
import logging

import pytest

from durable_ext.log import ContextFilter, JsonFormatter, info_line, invocation, logger, parse_format


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    level, logger.level = logger.level, logging.INFO
    logger.addHandler(handler)
    user = logging.getLogger("user_app")
    user.addHandler(handler)
    user.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        user.removeHandler(handler)
        logger.level = level


def test_records_in_an_invocation_carry_its_fields(json_lines):
    with invocation("say_hello", instance_id="order-1") as inv:
        logging.getLogger("user_app").info("hello from %s", "Tokyo")
    logger.info("outside")
    lines = json_lines()
    assert [line["message"] for line in lines] == [
        f"Executing 'Functions.say_hello' (Reason='(null)', Id={inv.id})",
        "hello from Tokyo",
        lines[2]["message"],
        "outside",
    ]
    for line in lines[:3]:
        assert line["instance_id"] == "order-1"
        assert line["function_name"] == "say_hello"
        assert line["invocation_id"] == inv.id
        assert line["level"] == "INFO" and line["timestamp"].endswith("Z")
    assert "instance_id" not in lines[3]
    assert lines[1]["logger"] == "user_app"


def test_explicit_fields_win_and_exceptions_are_kept(json_lines):
    with invocation("http_start"):
        logger.info("about another", extra={"instance_id": "other", "function_name": "orch"})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    lines = json_lines()
    assert lines[1]["instance_id"] == "other" and lines[1]["function_name"] == "orch"
    assert "instance_id" not in lines[2] and lines[2]["function_name"] == "http_start"
    assert "ValueError: boom" in lines[2]["exception"]


def test_the_cheap_info_lines_keep_their_explicit_fields(json_lines):
    # (the per-instance "Orchestration '…' Completed." line goes through info_line)
    with invocation("http_start"):
        info_line(
            "Orchestration '%s' (%s) %s.", ("o-1", "orch", "Completed"), {"instance_id": "o-1", "function_name": "orch"}
        )
    line = json_lines()[1]
    assert line["message"] == "Orchestration 'o-1' (orch) Completed."
    assert (line["instance_id"], line["function_name"], line["level"]) == ("o-1", "orch", "INFO")


def test_log_format_setting():
    assert parse_format(None) == "text"
    assert parse_format(" JSON ") == "json"
    with pytest.raises(ValueError, match="DURABLE_EXT_LOG_FORMAT: 'xml' is not a log format"):
        parse_format("xml")

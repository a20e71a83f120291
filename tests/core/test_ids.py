"""Instance, execution and invocation ids: the GUID shapes the Functions host writes, and unique."""

from __future__ import annotations

import re
import uuid

from durable_ext.core.clock import new_guid_text, new_id
from durable_ext.log import invocation


def test_instance_and_execution_ids_are_version_4_guids_in_the_n_format():
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", text)
        parsed = uuid.UUID(text)
        assert (parsed.hex, parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


def test_invocation_ids_are_hyphenated_version_4_guids():
    ids = [new_guid_text() for _ in range(2000)] + [invocation("f").id for _ in range(10)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)

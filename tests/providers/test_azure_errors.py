"""The Azure Storage provider's error contract: what fails in storage leaves it as ``ProviderError``
(the one storage error of the Provider Protocol, as the SQLite provider raises), never as an
``azure.core`` exception a caller would have to know about."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from durable_ext.core import events as e
from durable_ext.core.messages import TaskMessage
from durable_ext.errors import ProviderError


def test_a_hub_deleted_underneath_gives_provider_errors(hubs, run):
    provider = hubs.open()
    # Another process (the CLI's delete-hub) removes the hub while this worker still has it open.
    run(hubs.open(provider.hub, create=False).delete_hub())
    event = e.EventRaised(timestamp=datetime.now(UTC), name="ping", input=None)
    with pytest.raises(ProviderError) as caught:
        run(provider.send_message(TaskMessage("someone", event)))
    assert type(caught.value) is ProviderError
    assert "Azure Storage" in str(caught.value)
    assert type(caught.value.__cause__).__module__.startswith("azure.")

"""Several host processes sharing one Azure Storage task hub (Azurite): work is shared, and when
one worker is killed the other takes over its partitions and every instance completes."""

from __future__ import annotations

import time

import pytest

COUNT = 8
INSTANCES = 12


@pytest.fixture
def azure(azurite) -> str:
    return azurite.connection_string


def test_two_workers_share_a_hub_and_survive_a_sigkill(host_factory, azure, tmp_path):
    env = {"CRASHY_JOURNAL": str(tmp_path / "journal.txt"), "CRASHY_SLEEP": "0.1"}
    first = host_factory("tests/fixtures/apps/crashy", env=env, storage=azure)
    second = host_factory("tests/fixtures/apps/crashy", env=env, storage=azure)
    ids = [
        (first if i % 2 else second).start_orchestration("fan_out", {"count": COUNT})["id"] for i in range(INSTANCES)
    ]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Executing 'Functions.work'" not in first.log():
        time.sleep(0.1)
    time.sleep(1.0)
    first.kill()

    expected = sum(i * i for i in range(COUNT))
    for instance_id in ids:
        try:
            done = second.wait(instance_id, timeout=180)
        except AssertionError as stuck:  # say why: the instance's history and the dead worker's last lines
            history = second.status(instance_id, showHistory="true", showHistoryOutput="true").text
            raise AssertionError(f"{stuck}\nhistory: {history}\nkilled worker's log:\n{first.log()[-4000:]}") from None
        assert done["runtimeStatus"] == "Completed", done
        assert done["output"] == expected
    assert "Executing 'Functions.work'" in second.log()

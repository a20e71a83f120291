"""Worker mode with several worker processes on one task hub, as FUNCTIONS_WORKER_PROCESS_COUNT or several
instances give: one is killed with SIGKILL mid-run and replaced, as the host replaces a dead worker, and
every instance completes with the right output. On Azure Storage (Azurite) the dead worker's leases and
messages are taken over when they expire; on SQLite (several worker processes of one machine, as
``func start`` with FUNCTIONS_WORKER_PROCESS_COUNT) the replacement takes the dead process's locks back."""

from __future__ import annotations

import time

COUNT = 8
INSTANCES = 10
APP = "tests/fixtures/apps/crashy"


def test_two_workers_on_one_hub_survive_a_sigkill(worker_factory, storage, tmp_path):
    env = {"CRASHY_JOURNAL": str(tmp_path / "journal.txt"), "CRASHY_SLEEP": "0.1"}
    first = worker_factory(APP, storage=storage, env=env)
    second = worker_factory(storage=storage, env=env, app_dir=first.app_dir)
    ids = [
        (first if i % 2 else second).start_orchestration("fan_out", {"count": COUNT})["id"] for i in range(INSTANCES)
    ]

    # Mid-run: the victim has started activities (its dispatcher's log reaches the host as rpc_log).
    deadline = time.monotonic() + 120
    while "Executing 'Functions.work'" not in first.host.rpc_log_text():
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.1)
    first.kill()
    replacement = worker_factory(storage=storage, env=env, app_dir=first.app_dir)

    expected = sum(i * i for i in range(COUNT))
    for instance_id in ids:
        done = second.wait(instance_id, timeout=240)
        assert done["runtimeStatus"] == "Completed", done
        assert done["output"] == expected
    # The replacement serves the same hub: the status of every instance, through its own webhook function.
    assert all(replacement.status(i).json()["output"] == expected for i in ids)

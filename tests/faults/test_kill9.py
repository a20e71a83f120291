"""kill -9 the host at random points during 500 orchestrations, on SQLite and on Azurite.

Every instance whose start was acknowledged (202) must complete with the right output; activity
executions are at least once, so duplicates are counted and printed, not forbidden. The kill points
come from a seeded RNG (printed; ``FAULTS_SEED=<n>`` replays them) and are chosen by progress, never
by time: two kills after N acknowledged starts (so they land while starts are in flight), one after
K journaled activity executions of the backlog. The assertions hold wherever a kill lands.
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest

from tests.e2e.hostproc import HostProcess
from tests.faults.workload import journal_counts, outputs, report, try_start

#: 500 orchestrations per run on SQLite and on Azurite (whose emulator serves only ~5 orchestrations/s
#: on a loaded 2-core machine, so this run is the suite's longest: about 2 minutes);
#: FAULTS_AZURE_COUNT lowers it for a quick local run.
COUNT = 500
AZURE_COUNT = int(os.environ.get("FAULTS_AZURE_COUNT", "500"))
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
KILLS_DURING_STARTS = 2


def test_kill_minus_nine_at_random_points_loses_no_acknowledged_instance(host_factory, storage, tmp_path):
    seed = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"\nFAULTS_SEED={seed}", flush=True)
    count = AZURE_COUNT if storage else COUNT
    journal = tmp_path / "journal.txt"
    current = [host_factory("tests/faults/apps/chain", env={"FAULTS_JOURNAL": str(journal)}, storage=storage)]
    kill_at = sorted(rng.sample(range(count // 20, count - count // 20), KILLS_DURING_STARTS))
    acknowledged: dict[str, int] = {}

    def killer() -> None:
        # Kills land while starts are in flight (one is then cut off: not acknowledged); starts pause
        # while the host restarts, so the attempts are not spent on a port nobody listens on.
        for point in kill_at:
            while len(acknowledged) < point and not submitted.is_set():
                time.sleep(0.005)
            serving.clear()
            try:
                current[0] = _kill_and_restart(current[0])
            finally:
                serving.set()

    submitted = threading.Event()
    serving = threading.Event()
    serving.set()
    thread = threading.Thread(target=killer)
    thread.start()
    try:
        # Starts cut off by a kill are not acknowledged; keep starting until ``count`` are (bounded).
        for i in range(2 * count):
            if len(acknowledged) >= count:
                break
            serving.wait(300)
            instance = try_start(current[0], "chain", {"i": i})
            if instance is not None:
                acknowledged[instance] = i
        submitted.set()
        thread.join()
        # One more kill while the backlog runs: after K more activity executions, K drawn from what is
        # still to come (each acknowledged instance runs two activities at least once).
        ran = sum(journal_counts(journal).values())
        target = ran + rng.randrange(max(1, 2 * len(acknowledged) - ran))
        _until(lambda: sum(journal_counts(journal).values()) >= target, 300, f"{target} activity executions")
        current[0] = _kill_and_restart(current[0])
        done = outputs(current[0], set(acknowledged), timeout=540)
    finally:
        submitted.set()
        thread.join()
        current[0].kill()
    wrong = {iid: got for iid, got in done.items() if got != ("Completed", acknowledged[iid] * 2 + 1)}
    assert not wrong, f"{len(wrong)} instances with a wrong status or output, e.g. {list(wrong.items())[:5]}"
    assert len(acknowledged) >= count // 2, "most starts must be acknowledged for the run to mean anything"
    executions, _ = report(f"kill -9 x{KILLS_DURING_STARTS + 1}, {len(acknowledged)} of {count} acknowledged", journal)
    assert executions >= 2 * len(acknowledged)


def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _kill_and_restart(host: HostProcess) -> HostProcess:
    host.kill()
    return HostProcess(host.app_dir, port=host.port, env=host.env).start(timeout=180)

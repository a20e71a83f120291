"""Drive a host that is being killed and restarted: starts that count only once acknowledged (202),
completion checks against the list API, and the journal of activity executions."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import requests

from tests.e2e.hostproc import HostProcess

ROUTE = "runtime/webhooks/durabletask/orchestrators"


def try_start(host: HostProcess, name: str, body) -> str | None:
    """The instance id if the host acknowledged the start (202), else None (refused, down, reset)."""
    try:
        r = host.session.post(host.url(f"{ROUTE}/{name}"), json=body, timeout=10)
    except requests.RequestException:
        return None
    return r.json()["id"] if r.status_code == 202 else None


def outputs(host: HostProcess, ids: set[str], timeout: float) -> dict[str, object]:
    """Poll the list API until every id in ``ids`` is terminal (bounded); their outputs by id."""
    done: dict[str, object] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        token = None
        try:
            while True:
                headers = {"x-ms-continuation-token": token} if token else {}
                r = host.session.get(
                    host.url("runtime/webhooks/durabletask/instances"),
                    params={"runtimeStatus": "Completed,Failed,Terminated", "top": "500"},
                    headers=headers,
                    timeout=30,
                )
                r.raise_for_status()
                for inst in r.json():
                    if inst["instanceId"] in ids:
                        done[inst["instanceId"]] = (inst["runtimeStatus"], inst["output"])
                token = r.headers.get("x-ms-continuation-token")
                if not token:
                    break
        except requests.RequestException:
            pass
        if len(done) == len(ids):
            return done
        time.sleep(1.0)
    missing = sorted(ids - set(done))
    raise AssertionError(f"{len(missing)} acknowledged instances not finished in {timeout}s, e.g. {missing[:5]}")


def journal_counts(path: Path) -> collections.Counter:
    if not path.exists():
        return collections.Counter()
    return collections.Counter(line for line in path.read_text().splitlines() if line)


def report(label: str, journal: Path) -> tuple[int, int]:
    counts = journal_counts(journal)
    executions = sum(counts.values())
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\n[{label}] activity executions: {executions}, duplicates: {duplicates}", flush=True)
    return executions, duplicates

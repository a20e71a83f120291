"""DBOS Transact's side of bench/bench.py: the same workload shapes, on a SQLite (WAL) system database.

Run by bench.py with the Python of its own virtual environment (bench/.dbos-venv, created on
demand; DBOS never goes into the project's environment):

    bench/.dbos-venv/bin/python bench/dbos_peer.py WORKLOAD N DB_DIR

Prints one JSON object: the figure for WORKLOAD and the process's peak RSS. One workload per
process, each on a fresh database file, so no run inherits another's rows or caches.

Workloads (steps return what the durable_ext bench app's activities return):

- ``hello5``: N workflows of 5 sequential steps, all started at once with ``DBOS.start_workflow``
  (DBOS runs each on its own thread), then every ``get_result``; workflows per second.
- ``latency``: a 1-step workflow started and awaited N times in a row (5 warm-ups first); p50/p99
  of start → result in ms. A local handle's ``get_result`` waits on the workflow's future, so
  the wait adds nothing.
- ``fanq`` / ``fansw``: one workflow fans out N one-step child workflows — through a queue
  (``Queue.enqueue``, polled every ``--poll`` seconds, DBOS's default 1.0) or with
  ``DBOS.start_workflow`` — and sums their results; seconds.
- ``sequential``: one workflow of N sequential steps; seconds.

DBOS leaves SQLite's journal mode alone (its default is the rollback journal); the database file
is switched to WAL before DBOS opens it, as our SQLite hub runs in WAL.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import statistics
import sys
import time
import uuid
from pathlib import Path

from dbos import DBOS


@DBOS.step()
def hello(city: str) -> str:
    return f"Hello {city}!"


@DBOS.step()
def square(i: int) -> int:
    return i * i


@DBOS.workflow()
def hello_sequence5() -> list[str]:
    return [hello(city) for city in ("Tokyo", "Seattle", "London", "Cairo", "Lima")]


@DBOS.workflow()
def hello_once() -> str:
    return hello("once")


@DBOS.workflow()
def child(i: int) -> int:
    return square(i)


@DBOS.workflow()
def fan_out_queue(n: int) -> int:
    queue = QUEUES["fan"]
    handles = [queue.enqueue(child, i) for i in range(n)]
    return sum(h.get_result() for h in handles)


@DBOS.workflow()
def fan_out_start(n: int) -> int:
    handles = [DBOS.start_workflow(child, i) for i in range(n)]
    return sum(h.get_result() for h in handles)


@DBOS.workflow()
def sequential(n: int) -> int:
    total = 0
    for i in range(n):
        total += square(i)
    return total


QUEUES: dict = {}


def main() -> None:
    workload, n, db_dir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    poll = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    db = db_dir / f"dbos-{workload}-{uuid.uuid4().hex[:8]}.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    DBOS(config={"name": "durable-ext-bench", "system_database_url": f"sqlite:///{db}", "log_level": "WARNING"})
    DBOS.launch()
    if workload == "fanq":
        QUEUES["fan"] = DBOS.register_queue("fan", polling_interval_sec=poll)
    result: dict = {"workload": workload, "n": n}
    try:
        if workload == "hello5":
            t0 = time.perf_counter()
            handles = [DBOS.start_workflow(hello_sequence5) for _ in range(n)]
            for h in handles:
                assert h.get_result()[-1] == "Hello Lima!"
            result["per_second"] = n / (time.perf_counter() - t0)
        elif workload == "latency":
            samples = []
            for i in range(n + 5):
                t0 = time.perf_counter()
                out = DBOS.start_workflow(hello_once).get_result()
                elapsed = (time.perf_counter() - t0) * 1000
                assert out == "Hello once!", out
                if i >= 5:
                    samples.append(elapsed)
            samples.sort()
            result["p50_ms"] = statistics.median(samples)
            result["p99_ms"] = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        elif workload in ("fanq", "fansw", "sequential"):
            fn = {"fanq": fan_out_queue, "fansw": fan_out_start, "sequential": sequential}[workload]
            t0 = time.perf_counter()
            out = DBOS.start_workflow(fn, n).get_result()
            result["seconds"] = time.perf_counter() - t0
            assert out == sum(i * i for i in range(n)), out
        else:
            raise SystemExit(f"unknown workload {workload!r}")
    finally:
        DBOS.destroy()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()

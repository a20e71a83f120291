"""Benchmarks of the real host process on loopback; prints figures, asserts nothing.

    .venv/bin/python bench/bench.py [--storage sqlite|azurite|all] [--orchestrations 1000]
        [--latency-runs 100] [--fan-out 1000] [--sequential 1000]

Each configuration starts fresh host process(es) on a fresh copy of bench/app (a new, empty task
hub), drives them over HTTP (the same calls `curl` or the SDK client make) and stops them. With
``azurite`` the hub lives in Azure Storage on an Azurite emulator this script starts on loopback
(from node_modules/), measured with 1 worker and then 2 workers sharing the hub; ``all`` adds the
SQLite figures, side by side. All traffic stays on 127.0.0.1; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.hostproc import HostProcess, copy_app, use_azure_storage  # noqa: E402

API = "api/orchestrators"


def start(host: HostProcess, name: str, body=None) -> str:
    return host.start_orchestration(name, body)["id"]


def wait_all(host: HostProcess, ids: list[str], timeout: float) -> None:
    """Poll the list API until every instance is Completed (bounded by ``timeout``)."""
    pending = set(ids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        token = None
        while True:
            headers = {"x-ms-continuation-token": token} if token else {}
            r = host.session.get(
                host.url("runtime/webhooks/durabletask/instances"),
                params={"runtimeStatus": "Completed", "showInput": "false", "top": "1000"},
                headers=headers,
                timeout=60,
            )
            for inst in r.json():
                pending.discard(inst["instanceId"])
            token = r.headers.get("x-ms-continuation-token")
            if not token:
                break
        if pending:
            time.sleep(0.5)  # each listing pages through every completed instance: keep it rare
    if pending:
        raise SystemExit(f"{len(pending)} instances did not complete in {timeout}s")


def wait_one(host: HostProcess, instance_id: str, timeout: float = 600, poll: float = 0.1) -> dict:
    """Poll the status API every ``poll`` seconds until the instance is done.

    Each poll is work for the host (an HTTP request and a storage read: a table query on Azure
    Storage), so a tight loop would measure the poller as much as the runtime: long runs poll
    every 100 ms (≤ 0.1 s added to figures of seconds); the latency test polls every 5 ms.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = host.status(instance_id)
        if r.status_code == 200:
            return r.json()
        time.sleep(poll)
    raise SystemExit(f"{instance_id} did not complete in {timeout}s")


def throughput(hosts: list[HostProcess], n: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: start(hosts[i % len(hosts)], "hello_sequence5"), range(n)))
    wait_all(hosts[0], ids, timeout=max(600, n))
    return n / (time.perf_counter() - t0)


def latency(host: HostProcess, runs: int) -> tuple[float, float]:
    samples = []
    for i in range(runs + 5):
        t0 = time.perf_counter()
        out = wait_one(host, start(host, "hello_once"), poll=0.005)
        elapsed = (time.perf_counter() - t0) * 1000
        assert out["output"] == "Hello once!", out
        if i >= 5:  # warm-up
            samples.append(elapsed)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def timed(host: HostProcess, name: str, n: int) -> float:
    t0 = time.perf_counter()
    out = wait_one(host, start(host, name, n), timeout=3600)
    assert out["runtimeStatus"] == "Completed" and out["output"] == sum(i * i for i in range(n)), out
    return time.perf_counter() - t0


def run(connection_string: str | None, workers: int, args) -> dict[str, str]:
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = copy_app(ROOT / "bench" / "app", Path(tmp) / "app")
        if args.host_json:
            (app / "host.json").write_text(args.host_json)
        if connection_string:
            use_azure_storage(app, connection_string)
        hosts = [HostProcess(app).start() for _ in range(workers)]
        try:
            figures["HelloSequence5 throughput"] = (
                f"{throughput(hosts, args.orchestrations):.1f} orch/s ({args.orchestrations} orchestrations)"
            )
            p50, p99 = latency(hosts[0], args.latency_runs)
            figures["1-activity latency"] = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.latency_runs} runs)"
            figures[f"fan-out/fan-in {args.fan_out}"] = f"{timed(hosts[0], 'fan_out', args.fan_out):.2f} s"
            figures[f"sequential {args.sequential}"] = f"{timed(hosts[0], 'sequential', args.sequential):.2f} s"
        finally:
            for h in hosts:
                h.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", choices=("sqlite", "azurite", "all"), default="sqlite")
    parser.add_argument("--orchestrations", type=int, default=1000)
    parser.add_argument("--latency-runs", type=int, default=100)
    parser.add_argument("--fan-out", type=int, default=1000)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--host-json", default=None, help="replace bench/app/host.json with this JSON text")
    args = parser.parse_args()
    columns: dict[str, dict[str, str]] = {}
    if args.storage in ("sqlite", "all"):
        columns["SQLite, 1 worker"] = run(None, 1, args)
    if args.storage in ("azurite", "all"):
        from tests.azurite import Azurite

        emulator = Azurite.start()
        try:
            columns["Azurite, 1 worker"] = run(emulator.connection_string, 1, args)
            columns["Azurite, 2 workers"] = run(emulator.connection_string, 2, args)
        finally:
            emulator.stop()
    print(json.dumps(columns, indent=2))
    rows = list(next(iter(columns.values())))
    width = max(len(r) for r in rows) + 2
    print("".ljust(width) + " | ".join(name.ljust(40) for name in columns))
    for row in rows:
        print(row.ljust(width) + " | ".join(columns[name].get(row, "").ljust(40) for name in columns))


if __name__ == "__main__":
    main()

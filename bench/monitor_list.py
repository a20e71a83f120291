"""How fast the monitor's list (the HTTP API's paged instance query) answers on a big hub.

    .venv/bin/python bench/monitor_list.py [--instances 100000] [--peer 1000] [--repeat 20]

Builds two SQLite hubs through the provider — a small peer and a big one — with instances that are
scheduled far in the future (so they stay Pending and the host has no work to do while it is
measured), starts the real host on each and times, over loopback HTTP, the requests the monitor
makes: page 1, page 2 (continuation token), and page 1 filtered by status, by name and by id prefix.
Prints the median and worst time per request for both hubs side by side; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from durable_ext.client import DurableClient  # noqa: E402
from durable_ext.config import load_config  # noqa: E402
from durable_ext.core.clock import SystemClock  # noqa: E402
from durable_ext.providers.factory import create_provider  # noqa: E402
from tests.e2e.hostproc import HostProcess, copy_app  # noqa: E402

APP = ROOT / "tests" / "fixtures" / "apps" / "monitor_demo"
LIST = "runtime/webhooks/durabletask/instances"
PAGE = 50


def fill(app_dir: Path, count: int) -> float:
    """Create ``count`` instances through the provider; returns the seconds it took."""

    async def run() -> None:
        config = load_config(app_dir)
        provider = create_provider(config)
        await provider.create_hub()
        client = DurableClient(provider, SystemClock())
        later = datetime.now(UTC) + timedelta(days=365)
        try:
            for n in range(count):
                name = "pipeline" if n % 10 == 0 else "quick"
                await client.start_new(name, f"i-{n:06d}", f'{{"n": {n}}}', start_at=later)
        finally:
            await provider.close()

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def timed(host: HostProcess, params: dict, repeat: int, token: str | None = None) -> tuple[list[float], str | None]:
    times, next_token = [], None
    headers = {"x-ms-continuation-token": token} if token else {}
    for _ in range(repeat):
        started = time.perf_counter()
        response = host.session.get(host.url(LIST), params=params, headers=headers, timeout=120)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        next_token = response.headers.get("x-ms-continuation-token")
    return times, next_token


def measure(count: int, repeat: int, workdir: Path) -> dict[str, list[float]]:
    app_dir = copy_app(APP, workdir / f"hub{count}")
    seconds = fill(app_dir, count)
    print(f"  {count:>7} instances created through the provider in {seconds:.1f} s ({count / seconds:,.0f}/s)")
    host = HostProcess(app_dir).start()
    try:
        base = {"top": PAGE, "showInput": "false"}
        results: dict[str, list[float]] = {}
        results["page 1"], token = timed(host, base, repeat)
        results["page 2 (token)"], _ = timed(host, base, repeat, token)
        results["status=Pending"], _ = timed(host, {**base, "runtimeStatus": "Pending"}, repeat)
        results["name=pipeline"], _ = timed(host, {**base, "name": "pipeline"}, repeat)
        results["id prefix i-0420"], _ = timed(host, {**base, "instanceIdPrefix": "i-0420"}, repeat)
        results["monitor page"] = []
        for _ in range(repeat):
            started = time.perf_counter()
            assert host.session.get(host.url("runtime/webhooks/durabletask/monitor"), timeout=60).status_code == 200
            results["monitor page"].append(time.perf_counter() - started)
        return results
    finally:
        host.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--peer", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        print(f"SQLite hubs, {PAGE} instances a page, {args.repeat} requests each:")
        peer = measure(args.peer, args.repeat, Path(tmp))
        big = measure(args.instances, args.repeat, Path(tmp))
    print()
    print(f"| request | {args.peer:,} instances: median / max ms | {args.instances:,} instances: median / max ms |")
    print("| --- | --- | --- |")
    for name in peer:
        cells = [f"{statistics.median(r) * 1000:.1f} / {max(r) * 1000:.1f}" for r in (peer[name], big[name])]
        print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()

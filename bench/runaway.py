"""Latency of a normal orchestration while runaway user code loops in the same host; prints figures.

    .venv/bin/python bench/runaway.py [--runs 20] [--runaways 2]

Starts the real host (supervised, as `start` runs it) on a fresh app on loopback with
functionTimeout 00:01:00, measures start→Completed of a one-activity orchestration ``--runs`` times
with no runaway, then again while 1 … ``--runaways`` orchestrators spin in `while True: pass`
(before their timeout), then once more after the runaways timed out and the supervisor recycled the
host process, and prints median / p90 / max of each, side by side. The peer is the same host without
runaways in the same run. Asserts nothing; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.hostproc import HostProcess  # noqa: E402

APP = '''
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def spin(context):
    while True:
        pass


@app.orchestration_trigger(context_name="context")
def say_hello(context):
    return (yield context.call_activity("hello", "bench"))


@app.activity_trigger(input_name="name")
def hello(name):
    return f"Hello {name}"
'''

ROUTE = "runtime/webhooks/durabletask/orchestrators"


def latency(host: HostProcess) -> float:
    began = time.perf_counter()
    instance = host.start_orchestration("say_hello", route=ROUTE)["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = host.status(instance).json()
        if body["runtimeStatus"] == "Completed":
            return time.perf_counter() - began
        time.sleep(0.005)
    raise SystemExit(f"{instance} did not complete in 120 s")


def measure(host: HostProcess, runs: int) -> list[float]:
    latency(host)  # warm-up
    return [latency(host) for _ in range(runs)]


def row(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    return f"{label:<28} median {statistics.median(ordered) * 1000:8.1f} ms   p90 {p90 * 1000:8.1f} ms   max {ordered[-1] * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--runaways", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-runaway-") as tmp:
        app = Path(tmp) / "app"
        app.mkdir()
        (app / "function_app.py").write_text(textwrap.dedent(APP))
        (app / "host.json").write_text(json.dumps({"version": "2.0", "functionTimeout": "00:01:00"}))
        host = HostProcess(app).start()
        try:
            print(row("no runaway", measure(host, args.runs)), flush=True)
            first = host.host_pids()
            spinning = []
            for n in range(1, args.runaways + 1):
                spinning.append(host.start_orchestration("spin", route=ROUTE)["id"])
                time.sleep(1.0)  # let it reach its loop; the figures only matter while it spins
                print(row(f"{n} runaway(s) spinning", measure(host, args.runs)), flush=True)
            for instance in spinning:
                host.wait(instance, timeout=300)
            deadline = time.monotonic() + 120
            while host.host_pids() & first or not host.host_pids():
                if time.monotonic() > deadline:
                    raise SystemExit("the host process was not recycled within 120 s")
                time.sleep(0.1)
            print(row("after timeout + recycle", measure(host, args.runs)), flush=True)
        finally:
            host.stop()


if __name__ == "__main__":
    main()

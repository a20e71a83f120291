"""Benchmarks of the real host process on loopback; prints figures, asserts nothing.

    .venv/bin/python bench/bench.py [--storage sqlite|azurite|all] [--peer dbos] [--orchestrations 1000]
        [--latency-runs 100] [--fan-out 1000] [--sequential 1000] [--tracing off|compare]
        [--sqlite-processes 1[,2…]] [--memory N] [--baseline GIT_REF]

Each configuration starts fresh host process(es) on a fresh copy of bench/app (a new, empty task
hub), drives them over HTTP (the same calls `curl` or the SDK client make) and stops them. With
``azurite`` the hub lives in Azure Storage on an Azurite emulator this script starts on loopback
(from node_modules/), measured with 1 worker and then 2 workers sharing the hub; ``all`` adds the
SQLite figures, side by side. All traffic stays on 127.0.0.1; every loop is bounded.

``--peer dbos`` runs DBOS Transact 3.x on a SQLite (WAL) database doing the same workload shapes
(bench/dbos_peer.py) in the same run, and prints its column and the ratio to our SQLite column.
DBOS is installed on first use into its own virtual environment, bench/.dbos-venv (gitignored),
never into the project's. Fan-out takes DBOS's better of a queue and child workflows.

``--sqlite-processes 1,2`` measures SQLite with each of these numbers of host processes
(``FUNCTIONS_WORKER_PROCESS_COUNT``: one ``start``, its processes sharing the port and the hub file;
one column each); the default is the host's own default, one process per core up to two. ``--memory N`` runs N more HelloSequence5 to completion on the
first SQLite column's host after its workloads and reads its RSS again (the caches' bound, see
README). ``--baseline REF`` checks out commit REF into a temporary git worktree and runs its
durable_ext, on the same app, right before each of our columns (SQLite and Azurite): a
before/after comparison within one run.

``--tracing compare`` runs the SQLite column twice in the same run, OpenTelemetry off (no ``OTEL_*``
variable: the runtime's hooks see ``telemetry.ACTIVE is None``) and on (``OTEL_EXPORTER_OTLP_ENDPOINT``
to an OTLP/HTTP receiver on loopback that decodes every span), and prints on / off per workload.
Off is the default of every other run too: ``OTEL_*`` variables of the calling shell are dropped.

Latency is measured start → result with one request: the built-in ``POST
/runtime/webhooks/durabletask/orchestrators/{name}?timeout=…&pollingInterval=…`` starts the
instance and answers when it completes — the host wakes the waiting request when it commits the
instance, so the figure holds no polling delay (DBOS: ``get_result`` on a local handle waits on a
future). The latency loop and the throughput run's starts send their requests with ``http.client``
over keep-alive connections (``StartAndWait``, ``Starts``). Long runs poll the status API every 100 ms; the throughput run asks the list API for one
instance still Pending or Running (see ``wait_all``). The host's peak RSS (VmHWM) is read from
/proc before it stops.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from durable_ext.config import DEFAULT_WORKER_PROCESSES  # noqa: E402
from tests.e2e.hostproc import HostProcess, copy_app, use_azure_storage  # noqa: E402

API = "api/orchestrators"


def start(host: HostProcess, name: str, body=None) -> str:
    return host.start_orchestration(name, body)["id"]


def wait_all(host: HostProcess, timeout: float, poll: float = 0.05) -> None:
    """Wait until none of the hub's instances is Pending or Running (bounded by ``timeout``).

    It asks the list API for one instance still Pending or Running every ``poll`` seconds — on
    SQLite a query the host answers from an index, so the poller costs it next to nothing (paging
    through every completed instance at each poll, as this bench once did, loads the host it
    measures); on Azure Storage it is a table query, so it polls every 0.5 s.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = host.session.get(
            host.url("runtime/webhooks/durabletask/instances"),
            params={"runtimeStatus": "Pending,Running", "showInput": "false", "top": "1"},
            timeout=60,
        )
        if r.status_code == 200 and not r.json():
            break
        time.sleep(poll)


def check_completed(host: HostProcess, ids: list[str], timeout: float) -> None:
    """Every one of ``ids`` is Completed (one paged listing; not part of any timing)."""
    pending = set(ids)
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


class Starts:
    """Starts through the app's HTTP starter (``POST /api/orchestrators/{name}``, 202 and the
    instance's id), one keep-alive ``http.client`` connection per client thread and host.

    ``requests`` spent about 0.5 ms of the client's CPU per call (see :class:`StartAndWait`): for
    the 1,000 starts of a throughput run, 0.8 s of CPU taken from the host on a 2-core machine —
    a tenth of what the run had. DBOS's figure holds no client at all."""

    def __init__(self, hosts: list[HostProcess], name: str) -> None:
        self.hosts = hosts
        self.path = f"/{API}/{name}"
        self.local = threading.local()
        self.opened: list[http.client.HTTPConnection] = []

    def __call__(self, i: int) -> str:
        host = self.hosts[i % len(self.hosts)]
        connections = self.local.__dict__.setdefault("connections", {})
        connection = connections.get(host.port)
        if connection is None:
            connection = connections[host.port] = http.client.HTTPConnection("127.0.0.1", host.port, timeout=60)
            self.opened.append(connection)
        connection.request("POST", self.path, headers={"Content-Length": "0"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 202:
            raise SystemExit(f"start answered {response.status}: {body[:500]!r}")
        return json.loads(body)["id"]

    def close(self) -> None:
        for connection in self.opened:
            connection.close()


def throughput(hosts: list[HostProcess], n: int, poll: float = 0.05) -> float:
    starts = Starts(hosts, "hello_sequence5")
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(starts, range(n)))
    finally:
        starts.close()
    wait_all(hosts[0], timeout=max(600, n), poll=poll)
    rate = n / (time.perf_counter() - t0)
    check_completed(hosts[0], ids, timeout=max(600, n))
    return rate


class StartAndWait:
    """Start-and-wait requests over one keep-alive ``http.client`` connection (module docstring).

    ``requests`` spends about 0.5 ms of the client's CPU on each call (measured here against the
    host's status endpoint: 0.80 ms a round trip with a ``requests.Session``, 0.23 ms with
    ``http.client``) — a sixth of what is measured, and none of it the host's; DBOS's figure
    holds no client at all."""

    def __init__(self, host: HostProcess, name: str, polling: float) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=90)
        query = urllib.parse.urlencode({"timeout": "60", "pollingInterval": str(polling)})
        self.path = f"/runtime/webhooks/durabletask/orchestrators/{name}?{query}"

    def __call__(self):
        """One request: start the orchestrator; the answer (its output) comes when it completes."""
        self.connection.request("POST", self.path, headers={"Content-Length": "0"})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"start-and-wait answered {response.status}: {body[:500]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.connection.close()


def latency(host: HostProcess, runs: int, polling: float = 60) -> tuple[float, float]:
    """p50 and p99 of start-and-wait. The host wakes the waiting request when *it* commits the
    instance; with several workers another one may finish it (on SQLite the doorbell tells the host,
    on Azure Storage nothing does), so those runs pass ``polling`` = 0.1 s (the host's minimum)."""
    samples = []
    start_and_wait = StartAndWait(host, "hello_once", polling)
    try:
        for i in range(runs + 5):
            t0 = time.perf_counter()
            out = start_and_wait()  # the output, as the extension answers
            elapsed = (time.perf_counter() - t0) * 1000
            assert out == "Hello once!", out
            if i >= 5:  # warm-up
                samples.append(elapsed)
    finally:
        start_and_wait.close()
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def peak_rss_mb(host: HostProcess) -> tuple[float, float, int]:
    """(peak, current) resident set size of the host, in MB, and how many processes it runs: the sum
    over its host processes (``start`` runs them as its supervisor's children, one per core up to two
    by default; a checkout from before the supervisor runs the host as the process itself)."""
    assert host.proc is not None
    peak = now = 0.0
    pids = host.host_pids() or {host.proc.pid}
    for pid in pids:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value
        peak += int(fields["VmHWM"].split()[0]) / 1024
        now += int(fields["VmRSS"].split()[0]) / 1024
    return peak, now, len(pids)


def timed(host: HostProcess, name: str, n: int) -> float:
    t0 = time.perf_counter()
    out = wait_one(host, start(host, name, n), timeout=3600)
    assert out["runtimeStatus"] == "Completed" and out["output"] == sum(i * i for i in range(n)), out
    return time.perf_counter() - t0


THROUGHPUT, LATENCY, FAN_OUT, SEQUENTIAL, SEQUENTIAL_100, RSS, MEMORY = (
    "HelloSequence5 throughput",
    "1-activity latency",
    "fan-out/fan-in",
    "sequential",
    "sequential 100",
    "peak RSS",
    "RSS after more orchestrations",
)


def run(
    connection_string: str | None,
    workers: int,
    args,
    env: dict[str, str] | None = None,
    source: Path = ROOT,
    memory: int = 0,
) -> dict[str, dict]:
    """Each workload's figure: {"text": printed, "value": number for ratios}. ``env``: the hosts' extra
    environment (tracing on). ``workers`` host processes share the hub (on SQLite: one file; each
    serves HTTP and dispatches; the throughput starts go round-robin, the other workloads to the
    first). ``source``: the checkout whose durable_ext runs (``--baseline``). ``memory``: that many
    more HelloSequence5 run to completion at the end, and the host's RSS is read again."""
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = copy_app(ROOT / "bench" / "app", Path(tmp) / "app")
        if args.host_json:
            (app / "host.json").write_text(args.host_json)
        if connection_string:
            use_azure_storage(app, connection_string)
        hosts = [HostProcess(app, env=env, source=source).start() for _ in range(workers)]
        try:
            rate = throughput(hosts, args.orchestrations, poll=0.5 if connection_string else 0.05)
            figures[THROUGHPUT] = {"text": f"{rate:.1f} orch/s ({args.orchestrations})", "value": rate}
            p50, p99 = latency(hosts[0], args.latency_runs, polling=60 if workers == 1 else 0.1)
            figures[LATENCY] = {"text": f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.latency_runs})", "value": p50}
            t = timed(hosts[0], "fan_out", args.fan_out)
            figures[FAN_OUT] = {"text": f"{t:.2f} s ({args.fan_out})", "value": t}
            t = timed(hosts[0], "sequential", args.sequential)
            figures[SEQUENTIAL] = {"text": f"{t:.2f} s ({args.sequential})", "value": t}
            if args.sequential > 100:
                t100 = timed(hosts[0], "sequential", 100)
                figures[SEQUENTIAL_100] = {
                    "text": f"{t100:.2f} s (× {t / t100:.1f} = {args.sequential})",
                    "value": t100,
                }
            peak, now, processes = peak_rss_mb(hosts[0])
            together = f" ({processes} processes together)" if processes > 1 else ""
            figures[RSS] = {"text": f"{peak:.0f} MB peak, {now:.0f} MB at end{together}", "value": peak}
            if memory:
                done = 0
                while done < memory:  # in rounds of 1,000 started at once, as the throughput run
                    chunk = min(1000, memory - done)
                    throughput(hosts, chunk, poll=0.5 if connection_string else 0.05)
                    done += chunk
                peak, after, _ = peak_rss_mb(hosts[0])
                figures[MEMORY] = {
                    "text": f"{after:.0f} MB after {memory:,} more completed (was {now:.0f}; peak {peak:.0f})",
                    "value": after,
                }
        finally:
            for h in hosts:
                h.stop()
    return figures


DBOS_VENV = ROOT / "bench" / ".dbos-venv"


def dbos_python() -> Path:
    """The Python of bench/.dbos-venv, created (and DBOS 3.x installed into it) on first use."""
    python = DBOS_VENV / "bin" / "python"
    if not python.exists():
        print("Installing DBOS into bench/.dbos-venv (first --peer dbos run) …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(DBOS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "dbos>=3,<4"], check=True)
    return python


def dbos_run(workload: str, n: int, tmp: str, *extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBOS")}
    out = subprocess.run(
        [str(dbos_python()), str(ROOT / "bench" / "dbos_peer.py"), workload, str(n), tmp, *extra],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_dbos(args) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    peaks = []
    with tempfile.TemporaryDirectory() as tmp:
        r = dbos_run("hello5", args.orchestrations, tmp)
        peaks.append(r["peak_rss_mb"])
        figures[THROUGHPUT] = {"text": f"{r['per_second']:.1f} wf/s ({args.orchestrations})", "value": r["per_second"]}
        r = dbos_run("latency", args.latency_runs, tmp)
        peaks.append(r["peak_rss_mb"])
        figures[LATENCY] = {
            "text": f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms ({args.latency_runs})",
            "value": r["p50_ms"],
        }
        q = dbos_run("fanq", args.fan_out, tmp)
        w = dbos_run("fansw", args.fan_out, tmp)
        peaks += [q["peak_rss_mb"], w["peak_rss_mb"]]
        best = min(q["seconds"], w["seconds"])
        figures[FAN_OUT] = {
            "text": f"{best:.2f} s (queue {q['seconds']:.1f}, child wf {w['seconds']:.1f})",
            "value": best,
        }
        r = dbos_run("sequential", args.sequential, tmp)
        peaks.append(r["peak_rss_mb"])
        figures[SEQUENTIAL] = {"text": f"{r['seconds']:.2f} s ({args.sequential})", "value": r["seconds"]}
        if args.sequential > 100:
            r100 = dbos_run("sequential", 100, tmp)
            t = figures[SEQUENTIAL]["value"]
            figures[SEQUENTIAL_100] = {
                "text": f"{r100['seconds']:.2f} s (× {t / r100['seconds']:.1f} = {args.sequential})",
                "value": r100["seconds"],
            }
        figures[RSS] = {"text": f"{max(peaks):.0f} MB peak (largest of its runs)", "value": max(peaks)}
    return figures


#: ratio = ours / DBOS; the goal each row is held to (issue #9), and which way is better.
GOALS = {
    THROUGHPUT: ("≥ 3.0× (higher is better)", lambda r: r >= 3.0),
    LATENCY: ("≤ 0.5× (lower is better)", lambda r: r <= 0.5),
    FAN_OUT: ("≤ 0.2× (lower is better)", lambda r: r <= 0.2),
    SEQUENTIAL: ("≤ 1.0× (lower is better)", lambda r: r <= 1.0),
}


def print_table(columns: dict[str, dict[str, dict]], ours: list[str]) -> None:
    """The table; a ratio to DBOS (and whether its goal is met) for each column in ``ours``."""
    names = list(columns)
    rows: list[str] = []
    for col in columns.values():
        rows += [r for r in col if r not in rows]
    compared = [n for n in ours if n in columns] if "DBOS" in columns else []
    header = ["workload", *names]
    for name in compared:
        header += [f"ratio {name} / DBOS" if len(compared) > 1 else "ratio (ours / DBOS)", "goal"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [row, *(columns[n].get(row, {}).get("text", "") for n in names)]
        for name in compared:
            a, b = columns[name].get(row), columns["DBOS"].get(row)
            if a and b and b["value"] and row in GOALS:
                ratio = a["value"] / b["value"]
                label, met = GOALS[row]
                cells += [f"{ratio:.2f}×", f"{label}: {'met' if met(ratio) else 'NOT met'}"]
            else:
                cells += ["", ""]
        print("| " + " | ".join(cells) + " |")
    for name in ours:
        seq = columns.get(name, {})
        if SEQUENTIAL_100 in seq:
            growth = seq[SEQUENTIAL]["value"] / seq[SEQUENTIAL_100]["value"]
            print(f"\nlinearity ({name}): {seq[SEQUENTIAL]['text']} / sequential 100 = {growth:.1f}× (goal ≤ 12×)")


def baseline_checkout(ref: str, into: Path) -> Path:
    """A detached worktree of ``ref`` (removed by the caller) whose durable_ext a baseline column runs."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), ref], check=True,
                   capture_output=True)  # fmt: skip
    return into


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", choices=("sqlite", "azurite", "all"), default="sqlite")
    parser.add_argument("--orchestrations", type=int, default=1000)
    parser.add_argument("--latency-runs", type=int, default=100)
    parser.add_argument("--fan-out", type=int, default=1000)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--peer", choices=("none", "dbos"), default="none", help="also run DBOS, same shapes")
    parser.add_argument("--host-json", default=None, help="replace bench/app/host.json with this JSON text")
    parser.add_argument(
        "--sqlite-processes",
        default="default",
        help="comma-separated FUNCTIONS_WORKER_PROCESS_COUNT values for the SQLite host, one column each "
        "(e.g. 1,2; 'default': the host's own choice, one per core up to two)",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=0,
        help="then run this many more HelloSequence5 (first SQLite column) and read RSS",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="GIT_REF",
        help="also run that commit's durable_ext (same app, same run) before each of our columns",
    )
    parser.add_argument(
        "--tracing",
        choices=("off", "compare"),
        default="off",
        help="compare: the SQLite column twice, OpenTelemetry off and on (OTLP/HTTP to a loopback receiver)",
    )
    args = parser.parse_args()
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        del os.environ[name]  # the hosts inherit the environment: "off" must mean off
    columns: dict[str, dict[str, dict]] = {}
    ours: list[str] = []
    if args.tracing == "compare":
        run_tracing_comparison(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        baseline = baseline_checkout(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        try:
            run_columns(args, columns, ours, baseline)
        finally:
            if baseline is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=False)
    print(json.dumps({name: {row: f["text"] for row, f in col.items()} for name, col in columns.items()}, indent=2))
    print()
    print_table(columns, ours)


def run_columns(args, columns: dict[str, dict[str, dict]], ours: list[str], baseline: Path | None) -> None:
    def plural(n: int, what: str) -> str:
        return f"{n} {what}" if n == 1 else f"{n} {what}es" if what.endswith("s") else f"{n} {what}s"

    if args.storage in ("sqlite", "all"):
        for i, count in enumerate(args.sqlite_processes.split(",")):
            env = {} if count == "default" else {"FUNCTIONS_WORKER_PROCESS_COUNT": count}
            label = f"{DEFAULT_WORKER_PROCESSES} (default)" if count == "default" else count
            if baseline is not None:
                columns[f"{args.baseline} SQLite, processes {label}"] = run(None, 1, args, env=env, source=baseline)
            name = f"durable_ext SQLite, processes {label}"
            ours.append(name)
            columns[name] = run(None, 1, args, env=env, memory=args.memory if i == 0 else 0)
    if args.peer == "dbos":
        columns["DBOS"] = run_dbos(args)
    if args.storage in ("azurite", "all"):
        from tests.azurite import Azurite

        emulator = Azurite.start()
        try:
            for count in (1, 2):
                if baseline is not None:
                    columns[f"{args.baseline} Azurite, {plural(count, 'worker')}"] = run(
                        emulator.connection_string, count, args, source=baseline
                    )
                columns[f"Azurite, {plural(count, 'worker')}"] = run(emulator.connection_string, count, args)
        finally:
            emulator.stop()


def run_tracing_comparison(args) -> None:
    """SQLite, 1 worker: tracing off, then on (every span exported over OTLP/HTTP to a loopback
    receiver that decodes and counts them); prints both columns and on / off per workload."""
    from tests.e2e.otlp_receiver import Receiver

    off = run(None, 1, args)
    receiver = Receiver(keep=False)
    try:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "bench"}
        on = run(None, 1, args, env=env)
        time.sleep(6)  # the batch processor's last export (5 s schedule) after the host stopped
        spans = receiver.count
    finally:
        receiver.close()
    columns = {"tracing off": off, "tracing on (OTLP)": on}
    print(json.dumps({name: {row: f["text"] for row, f in col.items()} for name, col in columns.items()}, indent=2))
    print()
    print("| workload | tracing off | tracing on (OTLP/HTTP, loopback) | on / off |")
    print("|---|---|---|---|")
    for row in off:
        a, b = off[row], on.get(row)
        ratio = f"{b['value'] / a['value']:.2f}×" if b and a["value"] else ""
        print(f"| {row} | {a['text']} | {b['text'] if b else ''} | {ratio} |")
    print(f"\nspans received by the loopback OTLP receiver: {spans}")
    per_check = hook_cost_seconds()
    # One HelloSequence5: the HTTP start, the client's start, 6 episodes, 5 activities.
    checks = 13
    per_orchestration = 1 / off[THROUGHPUT]["value"]
    print(
        f"tracing off costs one `telemetry.ACTIVE is None` test per hook: {per_check * 1e9:.0f} ns here "
        f"× {checks} per HelloSequence5 = {per_check * checks * 1e6:.2f} µs, against "
        f"{per_orchestration * 1e3:.1f} ms of host time per orchestration (1 / throughput off): "
        f"{per_check * checks / per_orchestration * 1e6:.1f} ppm"
    )


def hook_cost_seconds() -> float:
    """What a hook does when tracing is off (dispatcher/orchestrations.py et al.), timed in this process."""
    import timeit

    from durable_ext import telemetry

    assert telemetry.ACTIVE is None

    def hook() -> None:
        tracing = telemetry.ACTIVE
        if tracing is not None:
            raise AssertionError("tracing is on")

    return min(timeit.repeat(hook, number=200_000, repeat=5)) / 200_000


if __name__ == "__main__":
    main()

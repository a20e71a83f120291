"""Azure Storage faults between the host and Azurite: HTTP 500/503, answers lost after the write,
dropped connections, stalls, and a few seconds of total outage, during a mixed workload (activity
chains, external events, entity signals). Nothing acknowledged is lost and the host recovers by
itself — the same host process throughout, no restart.
"""

from __future__ import annotations

import collections
import os
import random
import time

import pytest
import requests

from tests.e2e.conftest import FAST_AZURE_ENV
from tests.e2e.hostproc import ROOT, HostProcess, copy_app, use_azure_storage
from tests.faults.proxy import FaultProxy, Rates, proxied_connection_string, upstream_ports
from tests.faults.workload import outputs, report, try_start

pytestmark = [pytest.mark.e2e, pytest.mark.azurite, pytest.mark.timeout(900)]

CHAINS = 40
WAITERS = 10
SIGNALS = 20
FAULTS = Rates(error_before=0.04, error_after=0.02, drop_before=0.02, drop_after=0.01, stall=0.003)


def test_storage_faults_lose_nothing_and_the_host_recovers_by_itself(azurite, tmp_path):
    seed = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 30)))
    print(f"\nFAULTS_SEED={seed}", flush=True)
    rng = random.Random(seed)
    proxies = {service: FaultProxy(port, seed + n) for n, (service, port) in enumerate(upstream_ports(azurite.connection_string).items())}
    ports = {service: proxy.start() for service, proxy in proxies.items()}
    journal = tmp_path / "journal.txt"
    app = copy_app(ROOT / "tests/faults/apps/chain", tmp_path / "app")
    use_azure_storage(app, proxied_connection_string(azurite.connection_string, ports))
    host = HostProcess(app, env={**FAST_AZURE_ENV, "FAULTS_JOURNAL": str(journal)})
    try:
        host.start(timeout=180)
        serving = host.host_pids()
        for proxy in proxies.values():
            proxy.rates = FAULTS
        chains: dict[str, int] = {}
        waiters: dict[str, int] = {}
        signals = 0
        outage_at = rng.randrange(CHAINS)
        for i in range(CHAINS):
            if i == outage_at:
                for proxy in proxies.values():
                    proxy.outage(3.0)
            instance = try_start(host, "chain", {"i": i})
            if instance is not None:
                chains[instance] = i
        for i in range(WAITERS):
            instance = try_start(host, "waits_for_event", {"i": i})
            if instance is not None:
                waiters[instance] = i
        for _ in range(SIGNALS):
            signals += _signal(host)
        for instance, i in waiters.items():
            _raise_until_acknowledged(host, instance, 10 * i)
        done = outputs(host, set(chains) | set(waiters), timeout=540)
        wrong = {
            iid: got
            for iid, got in done.items()
            if got != ("Completed", chains[iid] * 2 + 1 if iid in chains else waiters[iid] * 10 + 1)
        }
        assert not wrong, f"{len(wrong)} wrong results, e.g. {list(wrong.items())[:5]}"
        # Every acknowledged signal applied; unacknowledged ones may have been applied too.
        count = _counter(host, signals)
        assert signals <= count <= SIGNALS, (signals, count)
        # The faults stop: the same host process serves new work normally.
        for proxy in proxies.values():
            proxy.rates = Rates()
        instance = try_start(host, "chain", {"i": 1000})
        assert instance is not None
        assert outputs(host, {instance}, timeout=120)[instance] == ("Completed", 2001)
        assert host.host_pids() == serving, "a host process was replaced"
        injected = sum((p.counts for p in proxies.values()), start=collections.Counter())
        print(f"[storage faults] injected: {dict(injected)}", flush=True)
        print(f"[storage faults] acknowledged: {len(chains)} chains, {len(waiters)} waiters, {signals} signals", flush=True)
        report("storage faults", journal)
        assert injected["outage"] > 0 and injected["error_before"] + injected["error_after"] > 0
    finally:
        host.kill()
        for proxy in proxies.values():
            proxy.stop()


def _signal(host: HostProcess) -> int:
    try:
        r = host.session.post(host.url("runtime/webhooks/durabletask/entities/counter/k?op=add"), json=1, timeout=10)
    except requests.RequestException:
        return 0
    return 1 if r.status_code == 202 else 0


def _raise_until_acknowledged(host: HostProcess, instance: str, value: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            r = host.session.post(
                host.url(f"runtime/webhooks/durabletask/instances/{instance}/raiseEvent/go"), json=value, timeout=10
            )
            if r.status_code == 202:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"raising 'go' on {instance} was never acknowledged")


def _counter(host: HostProcess, at_least: int) -> int:
    """The counter's value once it has applied at least ``at_least`` signals (bounded wait)."""
    deadline = time.monotonic() + 300
    value = None
    while time.monotonic() < deadline:
        r = host.session.get(host.url("runtime/webhooks/durabletask/entities/counter/k"), timeout=10)
        if r.status_code == 200:
            value = r.json()
            if value >= at_least:
                return value
        time.sleep(0.5)
    raise AssertionError(f"the counter shows {value}, fewer than the {at_least} acknowledged signals")


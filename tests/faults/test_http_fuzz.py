"""Fuzz the built-in HTTP API of a real host from the OpenAPI document it serves (issue #10).

schemathesis generates requests (valid and invalid parameters, bodies, headers, continuation
tokens) for every operation of ``/runtime/webhooks/durabletask/openapi.json``; the host runs on
loopback with keys required, as a deployment would. Checked: no 5xx and no request left hanging
(each has a client timeout), and normal traffic — orchestrations started through the app and
followed to completion — is served while the fuzzer runs and after it.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.e2e.hostproc import ROOT, HostProcess, copy_app

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

SYSTEM_KEY = "fuzz-system-key-0123456789"
MASTER_KEY = "fuzz-master-key-0123456789"
#: Generated requests in all (every operation, valid and invalid data), bounded so the run is short.
EXAMPLES = 300
REQUEST_TIMEOUT = 30


@pytest.fixture(scope="module")
def fuzz_host(tmp_path_factory):
    app = copy_app(ROOT, tmp_path_factory.mktemp("fuzz") / "app")
    host = HostProcess(
        app,
        env={
            "DURABLE_EXT_AUTH": "on",
            "host.master": MASTER_KEY,
            "host.systemKey.durabletask_extension": SYSTEM_KEY,
        },
    ).start()
    traffic = NormalTraffic(host)
    traffic.start()
    yield host, traffic
    traffic.stop()
    host.stop()


@pytest.mark.timeout(1200)  # a few hundred requests on a loaded 2-core machine; each one is bounded
def test_no_server_errors_or_hangs(fuzz_host):
    host, _ = fuzz_host
    url = host.url(f"runtime/webhooks/durabletask/openapi.json?code={SYSTEM_KEY}")
    schema = schemathesis.openapi.from_url(url)
    schema.config.base_url = f"{host.base_url}/runtime/webhooks/durabletask"
    strategy = schema.as_strategy(GenerationMode.POSITIVE) | schema.as_strategy(GenerationMode.NEGATIVE)
    answered: dict[int, int] = {}

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
    )
    def call(case):
        response = case.call(headers={"x-functions-key": SYSTEM_KEY}, timeout=REQUEST_TIMEOUT)
        answered[response.status_code] = answered.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query} → {response.status_code}: {response.text[:500]}"
            f"\n{host.log()[-3000:]}"
        )

    call()
    print(f"fuzz: {sum(answered.values())} requests, status codes {dict(sorted(answered.items()))}")


def test_normal_traffic_served_during_and_after_the_fuzz(fuzz_host):
    # Runs after the parametrized fuzz test above (pytest keeps file order).
    host, traffic = fuzz_host
    traffic.stop()
    assert not traffic.errors, traffic.errors[:5]
    assert traffic.completed >= 1, "no orchestration completed while the fuzzer ran"
    assert traffic.run_one() == "completed"
    status = requests.get(host.url("admin/host/status"), headers={"x-functions-key": MASTER_KEY}, timeout=30)
    assert status.status_code == 200 and status.json()["state"] == "Running"
    print(f"normal traffic during the fuzz: {traffic.completed} completed, {traffic.purged} purged by the fuzzer")


class NormalTraffic:
    """Starts ``hello_orchestrator`` through the app and follows it to the end, in a loop."""

    def __init__(self, host: HostProcess) -> None:
        self.host = host
        self.completed = 0
        self.purged = 0  # the fuzzer may purge or terminate any instance: that is an answer too
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self.run_one()
            except Exception as exc:
                self.errors.append(repr(exc))
                continue
            if outcome == "completed":
                self.completed += 1
            elif outcome == "gone":
                self.purged += 1
            self._stop.wait(0.2)  # steady traffic, not a load test

    def run_one(self) -> str:
        started = requests.post(self.host.url("api/orchestrators/hello_orchestrator"), timeout=REQUEST_TIMEOUT)
        if started.status_code != 202:
            raise AssertionError(f"start answered {started.status_code}: {started.text[:300]}")
        url = started.json()["statusQueryGetUri"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r = requests.get(url, timeout=REQUEST_TIMEOUT)
            if r.status_code >= 500:
                raise AssertionError(f"status answered {r.status_code}: {r.text[:300]}")
            if r.status_code == 404:
                return "gone"
            body = r.json()
            if body["runtimeStatus"] == "Completed":
                assert body["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"], body
                return "completed"
            if body["runtimeStatus"] in ("Terminated", "Failed", "Suspended"):
                return "gone"
            time.sleep(0.05)
        raise AssertionError("an orchestration of the normal traffic did not finish in 120 s")

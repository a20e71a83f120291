"""The monitor page, driven in real headless Chromium (Debian's ``chromium``) with Playwright.

A user's path on both providers: open the list, page through it, filter it, open an instance, see
its timeline, terminate it and see the status change, look at an entity. Screenshots of the list
and of an instance page are saved under ``test-artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.hostproc import ROOT

APP = ROOT / "tests" / "fixtures" / "apps" / "monitor_demo"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
MONITOR = "runtime/webhooks/durabletask/monitor"
# What the machine's Chromium needs headless as root on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUICK_COUNT = 25
PAGE_SIZE = 20

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `bash scripts/setup.sh --dev` (installs Debian's chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def post(host, path: str, body=None) -> requests.Response:
    data = None if body is None else json.dumps(body)
    return host.session.post(host.url(path), data=data, headers={"Content-Type": "application/json"}, timeout=30)


def wait_custom_status(host, instance_id: str, wanted: dict, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        body = host.status(instance_id).json()
        if body.get("customStatus") == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"{instance_id} never showed {wanted}: {body}")


def wait_entity(host, path: str, wanted, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = host.session.get(host.url(f"runtime/webhooks/durabletask/entities/{path}"), timeout=30)
        if r.status_code == 200 and r.json() == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"entity {path} never reached {wanted}")


def test_the_page_is_self_contained_and_locked_down(host_factory):
    host = host_factory(APP)
    response = host.session.get(host.url(MONITOR), timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    # Nothing from the internet: no external script, style, font or image.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text)
    assert "https://" not in response.text and "http://" not in response.text
    assert "Task hub MonitorDemo" in response.text
    assert f"Monitor: http://localhost:{host.port}/{MONITOR}" in host.log()


def test_a_user_pages_filters_opens_and_terminates(browser, host_factory, storage, request):
    from playwright.sync_api import expect

    host = host_factory(APP, storage=storage)
    for n in range(QUICK_COUNT):
        assert (
            post(host, f"runtime/webhooks/durabletask/orchestrators/quick/quick-{n:02d}", {"n": n}).status_code == 202
        )
    assert post(host, "runtime/webhooks/durabletask/orchestrators/pipeline/order-7", {"id": 7}).status_code == 202
    assert post(host, "runtime/webhooks/durabletask/entities/Counter/shelf?op=add", 5).status_code == 202
    for n in range(QUICK_COUNT):
        host.wait(f"quick-{n:02d}")
    wait_custom_status(host, "order-7", {"stage": "waiting for approval"})
    wait_entity(host, "Counter/shelf", 5)

    ARTIFACTS.mkdir(exist_ok=True)
    label = request.node.callspec.id
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    api_urls: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: api_urls.append(r.url) if "/durabletask/" in r.url else None)
    try:
        # The key the page was opened with goes with every API request it makes.
        page.goto(host.url(f"{MONITOR}?code=test-key"))
        page.wait_for_selector("#instances table")
        rows = page.locator("#instances tbody tr")

        # Paging on the server: 27 instances (the pipeline's sub-orchestration is one) at 20 a page
        # are two pages, each instance shown once.
        page.select_option("#page-size", str(PAGE_SIZE))
        expect(rows).to_have_count(PAGE_SIZE)
        first = page.locator("#instances tbody tr").evaluate_all("rows => rows.map(r => r.dataset.instanceId)")
        page.screenshot(path=str(ARTIFACTS / f"monitor-list-{label}.png"), full_page=True)
        assert page.locator("#next-page").is_enabled()
        page.click("#next-page")
        expect(page.locator("#page-info")).to_have_text(re.compile("^Page 2"))
        page.wait_for_selector("#instances tbody tr")
        second = page.locator("#instances tbody tr").evaluate_all("rows => rows.map(r => r.dataset.instanceId)")
        everything = host.session.get(host.url("runtime/webhooks/durabletask/instances?top=1000"), timeout=30).json()
        assert len(everything) == QUICK_COUNT + 2 and len(second) == QUICK_COUNT + 2 - PAGE_SIZE
        assert sorted(first + second) == sorted(i["instanceId"] for i in everything)
        assert page.locator("#next-page").is_disabled()
        page.click("#prev-page")
        expect(page.locator("#page-info")).to_have_text(re.compile("^Page 1"))

        # Filters: by name, then by status and id prefix.
        page.fill("#filter-name", "pipeline")
        page.click("#apply-filters")
        expect(rows).to_have_count(1)
        assert page.locator("#instances tbody tr").get_attribute("data-instance-id") == "order-7"
        page.click("#reset-filters")
        page.check("[data-filter-status=Completed]")
        page.fill("#filter-prefix", "quick-1")
        page.click("#apply-filters")
        expect(rows).to_have_count(10)
        statuses = page.locator("#instances tbody [data-status]").evaluate_all("els => els.map(e => e.dataset.status)")
        assert set(statuses) == {"Completed"}
        page.click("#reset-filters")
        page.fill("#filter-prefix", "order-")
        page.click("#apply-filters")
        expect(rows).to_have_count(1)

        # The instance page: payloads, and a timeline with an activity, a timer and a sub-orchestration.
        page.click("#instances a:text('order-7')")
        page.wait_for_selector("#timeline")
        assert page.locator("#instance-status [data-status]").text_content() == "Running"
        assert json.loads(page.locator("#payload-input").text_content()) == {"id": 7}
        assert json.loads(page.locator("#payload-custom-status").text_content()) == {"stage": "waiting for approval"}
        kinds = page.locator("#timeline .row").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert {"orchestration", "activity", "timer", "suborchestration"} <= set(kinds)
        page.screenshot(path=str(ARTIFACTS / f"monitor-instance-{label}.png"), full_page=True)
        page.click("#tab-history")
        assert page.locator("#history-table tr[data-event=SubOrchestrationInstanceCompleted]").count() == 1

        # Terminate: the dialog asks for a reason, the status turns Terminated.
        page.click("#action-terminate")
        page.fill("#dialog-reason", "cancelled in the monitor")
        page.click("#dialog-ok")
        page.wait_for_selector("#instance-status [data-status=Terminated]", timeout=60_000)
        assert host.status("order-7").json()["output"] == "cancelled in the monitor"
        page.screenshot(path=str(ARTIFACTS / f"monitor-terminated-{label}.png"), full_page=True)

        # Entities and their state.
        page.click("#nav-entities")
        page.wait_for_selector("#entities table")
        page.click("#entities a:text('shelf')")
        assert json.loads(page.locator("#entity-state").text_content()) == 5
    finally:
        page.close()
    assert errors == []
    api_calls = [u for u in api_urls if "/monitor" not in u]
    assert api_calls and all("code=test-key" in u for u in api_calls)


def test_instance_actions_from_the_page(browser, host_factory, storage):
    from playwright.sync_api import expect

    host = host_factory(APP, storage=storage)
    assert post(host, "runtime/webhooks/durabletask/orchestrators/pipeline/order-8", {"id": 8}).status_code == 202
    wait_custom_status(host, "order-8", {"stage": "waiting for approval"})
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    status = page.locator("#instance-status [data-status]")
    try:
        page.goto(host.url(f"{MONITOR}#/instance/order-8"))
        expect(status).to_have_text("Running")

        page.click("#action-suspend")
        page.fill("#dialog-reason", "lunch")
        page.click("#dialog-ok")
        expect(status).to_have_text("Suspended")
        page.click("#action-resume")
        page.click("#dialog-ok")
        expect(status).to_have_text("Running")

        page.click("#action-raise")
        page.fill("#dialog-event", "Approve")
        page.fill("#dialog-data", '{"by": "monitor"}')
        page.click("#dialog-ok")
        expect(status).to_have_text("Completed")
        assert json.loads(page.locator("#payload-output").text_content())["approval"] == {"by": "monitor"}
        kinds = page.locator("#timeline .row").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert "event" in kinds

        page.click("#action-restart")
        page.click("#dialog-ok")
        expect(page.locator("#instance-id")).not_to_have_text("order-8")
        restarted = page.locator("#instance-id").text_content()
        assert host.status(restarted).json()["input"] == {"id": 8}

        page.goto(host.url(f"{MONITOR}#/instance/order-8"))
        expect(status).to_have_text("Completed")
        page.click("#action-purge")
        page.click("#dialog-ok")
        page.wait_for_selector("#instances")
        assert host.status("order-8").status_code == 404
    finally:
        page.close()
    assert errors == []

"""Two apps, two task hubs, one store: app A (hub MainHub) starts an orchestration in app B's hub
(OtherHub) through a client binding with ``task_hub``; only B runs it; A reads its status and
output through its own client and through the webhooks with ``taskHub``. Once on one SQLite file
(host.json ``storageProvider.path``), once on one Azurite account."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import FAST_AZURE_ENV
from tests.e2e.hostproc import ROOT, copy_app

APPS = ROOT / "tests" / "fixtures" / "apps"
WH = "runtime/webhooks/durabletask"


def _prepare(tmp_path: Path, app: str, hub: str, values: dict[str, str], azure: str | None) -> Path:
    app_dir = copy_app(APPS / app, tmp_path / app)
    host = json.loads((app_dir / "host.json").read_text())
    durable = host["extensions"]["durableTask"]
    durable["hubName"] = hub
    if azure is not None:
        durable["storageProvider"] = {"type": "AzureStorage", "partitionCount": 2 if app == "hub_other" else 4}
        values = {**values, "AzureWebJobsStorage": azure}
    (app_dir / "host.json").write_text(json.dumps(host))
    settings = json.loads((app_dir / "local.settings.json").read_text())
    settings["Values"].update(values)
    (app_dir / "local.settings.json").write_text(json.dumps(settings))
    return app_dir


def _ids(reply) -> list[str]:
    assert reply.status_code == 200, reply.text
    return sorted(item["instanceId"] for item in reply.json())


@pytest.mark.parametrize("kind", ["sqlite", "azure_storage"])
def test_app_starts_and_reads_an_orchestration_in_another_apps_hub(kind, host_factory, tmp_path, request):
    azure = request.getfixturevalue("azurite").connection_string if kind == "azure_storage" else None
    # On the session's one Azurite account hub names must be fresh; SQLite gets the plain names.
    suffix = uuid.uuid4().hex[:8] if azure else ""
    main_hub, other_hub = f"MainHub{suffix}", f"OtherHub{suffix}"
    env = FAST_AZURE_ENV if azure else None
    main_dir = _prepare(tmp_path, "hub_main", main_hub, {"OtherHubName": other_hub}, azure)
    other_dir = _prepare(tmp_path, "hub_other", other_hub, {}, azure)

    a = host_factory(main_dir, copy=False, env=env)
    started = a.session.post(a.url("api/remote/start/other_orch"), json=21, timeout=30)
    assert started.status_code == 202, (started.text, a.log()[-3000:])
    links = started.json()
    remote_id = links["id"]
    assert f"taskHub={other_hub}&connection=Storage" in links["statusQueryGetUri"]

    # A runs its own work, but never the instance in B's hub: it stays Pending while only A runs.
    own_id = a.start_orchestration("main_orch", "x")["id"]
    assert a.wait(own_id, timeout=180)["output"] == "main:x"
    pending = a.session.get(links["statusQueryGetUri"], timeout=30)
    assert pending.status_code == 202 and pending.json()["runtimeStatus"] == "Pending", pending.text
    assert a.status(remote_id).status_code == 404  # not in A's own hub
    if azure is None:
        assert (tmp_path / "shared.sqlite").exists() and not (main_dir / ".durable_ext").exists()

    b = host_factory(other_dir, copy=False, env=env)
    b.wait(remote_id, timeout=180, statuses=("Running",))
    raised = a.session.post(a.url(f"api/remote/event/{remote_id}/Approve"), json="yes", timeout=30)
    assert raised.status_code == 202, (raised.text, a.log()[-3000:])
    done = b.wait(remote_id, timeout=180)
    assert done["runtimeStatus"] == "Completed", done
    assert done["output"]["doubled"] == 42

    # A reads B's instance through its own client binding …
    through_binding = a.session.get(a.url(f"api/remote/status/{remote_id}"), timeout=30)
    assert through_binding.status_code == 200, (through_binding.text, a.log()[-3000:])
    assert through_binding.json() == {
        "name": "other_orch",
        "runtimeStatus": "Completed",
        "output": {"doubled": 42, "approval": json.dumps("yes")},  # SDK raise_event double-encodes
        "listed": [remote_id],
    }
    # … and through the webhook with taskHub (the link create_check_status_response handed out).
    status = a.session.get(links["statusQueryGetUri"], timeout=30)
    assert status.status_code == 200 and status.json()["output"]["doubled"] == 42

    # Neither listing shows the other app's instances unless asked.
    assert _ids(a.session.get(a.url(f"{WH}/instances"), timeout=30)) == [own_id]
    assert _ids(b.session.get(b.url(f"{WH}/instances"), timeout=30)) == [remote_id]
    assert _ids(a.session.get(a.url(f"{WH}/instances"), params={"taskHub": other_hub}, timeout=30)) == [remote_id]
    assert _ids(b.session.get(b.url(f"{WH}/instances"), params={"taskHub": main_hub}, timeout=30)) == [own_id]
    bad = a.session.get(a.url(f"{WH}/instances"), params={"taskHub": "Other-Hub"}, timeout=30)
    assert bad.status_code == 400 and "'Other-Hub'" in bad.json()["Message"]
    # The functions were each run by their own app only.
    assert "Functions.double" not in a.log() and "Functions.double" in b.log()
    assert "Functions.main_work" not in b.log()

"""The real host against untrusted callers (issue #10): what it reveals, what it writes to disk."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_admin_status_reveals_no_path_hostname_or_pid(host_factory):
    host = host_factory(".")
    text = host.session.get(host.url("admin/host/status"), timeout=30).text
    assert str(host.app_dir) not in text and "/" not in text.replace("\\/", "")
    assert socket.gethostname() not in text
    serving = host.host_pids()  # the host processes under start's supervisor
    assert serving and str(host.proc.pid) not in text and not any(str(pid) in text for pid in serving)
    assert os.path.sep + "tmp" not in text


def test_sigterm_answers_a_long_poll_and_exits(host_factory):
    host = host_factory(".")
    answers: list = []

    def wait_request():
        r = requests.post(
            host.url("runtime/webhooks/durabletask/orchestrators/approval/longpoll?timeout=3000&pollingInterval=1"),
            json={"timeout_seconds": 3000},
            timeout=120,
        )
        answers.append(r)

    waiter = threading.Thread(target=wait_request)
    waiter.start()
    while host.status("longpoll").status_code == 404:  # started: the request is now waiting on it
        assert waiter.is_alive(), answers
        time.sleep(0.05)
    started = time.monotonic()
    code = host.stop()  # SIGTERM; stop() falls back to SIGKILL after 30 s
    waiter.join(60)
    assert code == 0, (code, host.log()[-2000:])
    assert answers and answers[0].status_code == 202 and answers[0].json()["id"] == "longpoll"
    print(f"shutdown with a pending long poll took {time.monotonic() - started:.2f} s")


# -- keys ----------------------------------------------------------------------------------------

SECURED = "tests/fixtures/apps/secured"
MASTER = "m" * 20 + "-master"
SYSTEM = "s" * 20 + "-system"
HOST_KEY = "h" * 20 + "-host"
STARTER_KEY = "f" * 20 + "-starter"
PINNED = {
    "DURABLE_EXT_AUTH": "on",
    "host.master": MASTER,
    "host.systemKey.durabletask_extension": SYSTEM,
    "host.function.default": HOST_KEY,
    "functions.starter.default": STARTER_KEY,
}


def _get(host, path, key=None, **kw):
    headers = {**({"x-functions-key": key} if key else {}), **kw.pop("headers", {})}
    return requests.get(host.url(path), headers=headers, timeout=30, **kw)


def _post(host, path, key=None, **kw):
    headers = {**({"x-functions-key": key} if key else {}), **kw.pop("headers", {})}
    return requests.post(host.url(path), headers=headers, timeout=30, **kw)


def test_keys_pinned_through_settings_guard_every_route(host_factory):
    host = host_factory(SECURED, env=PINNED)
    assert "HTTP keys: required (requested)" in host.log()
    # The app's functions: authLevel anonymous / function / admin.
    assert _get(host, "api/open").status_code == 200
    assert _post(host, "api/orchestrators/greet").status_code == 401
    assert _post(host, "api/orchestrators/greet", "wrong-key-wrong-key").status_code == 401
    assert _get(host, "api/private", STARTER_KEY).status_code == 401
    assert _get(host, "api/private", SYSTEM).status_code == 401
    assert _get(host, "api/private", MASTER).status_code == 200
    assert _get(host, "api/private", params={"code": MASTER}).status_code == 200
    # Webhooks: the durable system key or the master key; a function key is not enough.
    assert _get(host, "runtime/webhooks/durabletask/instances").status_code == 401
    assert _get(host, "runtime/webhooks/durabletask/instances", HOST_KEY).status_code == 401
    assert _get(host, "runtime/webhooks/durabletask/instances", SYSTEM).status_code == 200
    assert _get(host, "runtime/webhooks/durabletask/instances", MASTER).status_code == 200
    # Admin: the master key only.
    assert _get(host, "admin/host/status").status_code == 401
    assert _get(host, "admin/host/status", SYSTEM).status_code == 401
    assert _get(host, "admin/host/status", MASTER).json()["state"] == "Running"

    # A function key starts; the SDK client inside the app reaches the host (its RPC is keyed
    # too); the links create_check_status_response hands out carry the system key and work as is.
    for key in (STARTER_KEY, HOST_KEY):
        r = _post(host, "api/orchestrators/greet", key, data="Tokyo")
        assert r.status_code == 202, (r.status_code, r.text, host.log()[-2000:])
        links = r.json()
        for name, url in links.items():
            assert name == "id" or f"code={SYSTEM}" in url, url
        deadline = time.monotonic() + 60
        while (status := requests.get(links["statusQueryGetUri"], timeout=30)).status_code == 202:
            assert time.monotonic() < deadline, status.text
            time.sleep(0.05)
        assert status.status_code == 200 and status.json()["output"] == "Hello Tokyo!"
    # The webhooks' own 202 answer carries the key too.
    r = _post(host, "runtime/webhooks/durabletask/orchestrators/greet", SYSTEM, json="Oslo")
    assert r.status_code == 202 and f"code={SYSTEM}" in r.json()["statusQueryGetUri"]
    assert requests.get(r.json()["statusQueryGetUri"], timeout=30).status_code in (200, 202)


def test_keys_are_generated_once_with_owner_only_permissions(host_factory):
    host = host_factory(SECURED, env={"DURABLE_EXT_AUTH": "on"})
    secrets_dir = host.app_dir / ".durable_ext" / "secrets"
    assert f"keys in files in {secrets_dir}" in host.log()
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    files = sorted(p.name for p in secrets_dir.iterdir())
    assert files == ["host.json", "open_function.json", "private_function.json", "starter.json"]
    for path in secrets_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    keys = json.loads((secrets_dir / "host.json").read_text())
    master = keys["masterKey"]["value"]
    system = {k["name"]: k["value"] for k in keys["systemKeys"]}["durabletask_extension"]
    starter = json.loads((secrets_dir / "starter.json").read_text())["keys"][0]["value"]
    assert len({master, system, starter}) == 3 and min(map(len, (master, system, starter))) >= 32
    assert _get(host, "admin/host/status", master).status_code == 200
    assert _get(host, "runtime/webhooks/durabletask/instances", params={"code": system}).status_code == 200
    assert _post(host, "api/orchestrators/greet", starter, data="x").status_code == 202
    # A restart keeps them.
    host.stop()
    again = host_factory(SECURED, env={"DURABLE_EXT_AUTH": "on"})
    assert json.loads((secrets_dir / "host.json").read_text())["masterKey"]["value"] == master
    assert _get(again, "admin/host/status", master).status_code == 200


def test_loopback_without_settings_checks_no_keys_and_says_so(host_factory):
    host = host_factory(SECURED)
    assert "HTTP keys: not checked — bound to loopback 127.0.0.1" in host.log()
    assert _post(host, "api/orchestrators/greet", data="x").status_code == 202
    assert not (host.app_dir / ".durable_ext" / "secrets").exists()


def test_hub_directory_and_file_are_owner_only(host_factory):
    host = host_factory(SECURED)
    hub_dir = host.app_dir / ".durable_ext"
    assert stat.S_IMODE(hub_dir.stat().st_mode) == 0o700
    for path in hub_dir.glob("taskhub.sqlite*"):  # the file, its -wal and -shm, the doorbell directory
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


# -- Host and Origin -----------------------------------------------------------------------------


def test_dns_rebinding_and_cross_site_posts_are_refused(host_factory):
    host = host_factory(SECURED)
    wh = "runtime/webhooks/durabletask"
    rebound = {"Host": f"attacker.example:{host.port}"}
    assert _get(host, f"{wh}/instances", headers=rebound).status_code == 400
    assert _post(host, "api/orchestrators/greet", data="x", headers=rebound).status_code == 400
    assert _get(host, f"{wh}/instances", headers={"Host": f"localhost:{host.port}"}).status_code == 200

    form = {"Content-Type": "text/plain", "Origin": "http://attacker.example"}
    assert _post(host, f"{wh}/orchestrators/greet/xsite", data='"x"', headers=form).status_code == 403
    assert _post(host, "api/orchestrators/greet", data="x", headers=form).status_code == 403
    assert _post(host, f"{wh}/orchestrators/greet/xsite", data='"x"', headers={"Origin": "null"}).status_code == 403
    assert _post(host, f"{wh}/orchestrators/greet/xsite", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert host.status("xsite").status_code == 404  # nothing started

    r = _post(host, f"{wh}/orchestrators/greet/victim", json="x")
    assert r.status_code == 202
    assert _post(host, f"{wh}/instances/victim/terminate", headers=form).status_code == 403
    # The host's own pages may post (same origin).
    same = {"Origin": host.base_url, "Content-Type": "application/json"}
    assert _post(host, f"{wh}/orchestrators/greet/mine", data='"x"', headers=same).status_code == 202

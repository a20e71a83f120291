"""`python -m durable_ext start`: bad apps and settings fail with one clear line; SIGTERM is clean."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

from tests.e2e.hostproc import ROOT, HostProcess, free_port


def start(app_dir, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "durable_ext", "start", "--app-dir", str(app_dir), "--port", str(free_port()), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_app(path, code: str, host_json: dict | None = None):
    path.mkdir(parents=True, exist_ok=True)
    (path / "function_app.py").write_text(code)
    (path / "host.json").write_text(json.dumps(host_json or {"version": "2.0"}))
    return path


GOOD = "import azure.durable_functions as df\napp = df.DFApp()\n"


def test_import_error_in_the_app_is_one_clear_message(tmp_path):
    app = write_app(
        tmp_path / "broken", "import azure.durable_functions as df\nimport no_such_module\napp = df.DFApp()\n"
    )
    result = start(app)
    assert result.returncode == 2
    assert "no_such_module" in result.stderr and "Traceback" not in result.stderr


def test_two_app_objects_are_refused(tmp_path):
    app = write_app(tmp_path / "two", GOOD + "other = df.DFApp()\n")
    result = start(app)
    assert result.returncode == 2 and "app" in result.stderr and "other" in result.stderr


def test_duplicate_function_names_are_refused(tmp_path):
    code = GOOD + (
        "@app.activity_trigger(input_name='x')\ndef act(x):\n    return x\n\n"
        "@app.activity_trigger(input_name='x', activity='ACT')\ndef act2(x):\n    return x\n"
    )
    result = start(write_app(tmp_path / "dup", code))
    assert result.returncode == 2 and "act" in result.stderr.lower()


def test_invalid_hub_name_names_the_setting(tmp_path):
    app = write_app(tmp_path / "hub", GOOD, {"version": "2.0", "extensions": {"durableTask": {"hubName": "bad-hub"}}})
    result = start(app)
    assert result.returncode == 2
    assert "hubName" in result.stderr and "bad-hub" in result.stderr


def test_unsupported_storage_provider_names_the_setting(tmp_path):
    host_json = {"version": "2.0", "extensions": {"durableTask": {"storageProvider": {"type": "Netherite"}}}}
    result = start(write_app(tmp_path / "store", GOOD, host_json))
    assert result.returncode == 2 and "storageProvider" in result.stderr


def test_sigterm_stops_cleanly_and_the_next_start_resumes(tmp_path):
    app = tmp_path / "features"
    shutil.copytree(ROOT / "tests/fixtures/apps/features", app)
    host = HostProcess(app, env={"FEATURES_FLAG_DIR": str(tmp_path)}).start()
    links = host.start_orchestration("wait_for_go")
    host.wait(links["id"], statuses=("Running",))
    host.proc.send_signal(signal.SIGTERM)
    assert host.proc.wait(30) == 0
    assert "Host stopped." in host.log()

    again = HostProcess(app, port=host.port, env={"FEATURES_FLAG_DIR": str(tmp_path)}).start()
    try:
        url = links["sendEventPostUri"].replace("{eventName}", "Go")
        assert again.session.post(url, json="after restart", timeout=30).status_code == 202
        assert again.wait(links["id"])["output"] == "after restart"
    finally:
        again.stop()


def test_delete_hub_removes_every_instance_of_the_hub(host_factory, storage):
    host = host_factory("samples/fan_out_fan_in", storage=storage)
    instance_id = host.start_orchestration("fan_out_fan_in", 3)["id"]
    assert host.wait(instance_id)["output"] == 5
    host.stop()
    result = subprocess.run(
        [sys.executable, "-m", "durable_ext", "delete-hub", "--app-dir", str(host.app_dir), "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "deleted" in result.stdout
    again = HostProcess(host.app_dir, port=host.port, env=host.env).start()
    try:
        assert again.status(instance_id).status_code == 404
    finally:
        again.stop()


def test_an_app_without_host_json_is_refused_like_func_start(tmp_path):
    app = write_app(tmp_path / "nohost", GOOD)
    (app / "host.json").unlink()
    result = start(app)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "host.json" in lines[0] and str(app) in lines[0], result.stderr


def test_a_function_whose_parameters_do_not_match_its_bindings_is_refused_at_start(tmp_path):
    code = GOOD + (
        "@app.route(route='go')\n@app.durable_client_input(client_name='client')\n"
        "async def go(req):\n    return None\n"
    )
    result = start(write_app(tmp_path / "mismatch", code))
    assert result.returncode == 2
    assert "cannot load the go function" in result.stderr and "'client'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_or_an_unusable_address_is_one_clear_line(tmp_path):
    import socket

    app = write_app(tmp_path / "busy", GOOD)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for extra in ([], ["--no-supervisor"]):
            result = start(app, "--port", str(port), *extra)
            assert result.returncode == 2, (extra, result.stderr)
            assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr, (extra, result.stderr)
            assert "Traceback" not in result.stderr, (extra, result.stderr)
    for extra in ([], ["--no-supervisor"]):
        result = start(app, "--host", "999.1.1.1", *extra)
        assert result.returncode == 2 and "Cannot listen on 999.1.1.1" in result.stderr, (extra, result.stderr)
        assert "Traceback" not in result.stderr, (extra, result.stderr)
    # Bound in the same way, a free port serves as before and SIGTERM still ends the host cleanly.
    import time

    import requests

    port = free_port()
    command = [sys.executable, "-m", "durable_ext", "start", "--app-dir", str(app), "--port", str(port)]
    proc = subprocess.Popen([*command, "--no-supervisor"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the host did not answer within 60 s"
            try:
                if requests.get(f"http://127.0.0.1:{port}/admin/host/status", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()


def test_unusable_storage_settings_are_one_clear_line(tmp_path):
    # A malformed connection string, or a hub file whose directory cannot be created: status 2 and
    # one line naming the setting or the path, not a traceback.
    azure = {"version": "2.0", "extensions": {"durableTask": {"storageProvider": {"type": "AzureStorage"}}}}
    for value in ("garbage", "a=b"):
        app = write_app(tmp_path / f"conn-{value.replace('=', '')}", GOOD, azure)
        (app / "local.settings.json").write_text(json.dumps({"Values": {"AzureWebJobsStorage": value}}))
        result = start(app)
        assert result.returncode == 2, result.stderr
        assert "AzureWebJobsStorage" in result.stderr and "Traceback" not in result.stderr, result.stderr
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    sqlite = {"version": "2.0", "extensions": {"durableTask": {"storageProvider": {"path": str(blocked / "sub" / "hub.sqlite")}}}}
    result = start(write_app(tmp_path / "path", GOOD, sqlite))
    assert result.returncode == 2, result.stderr
    assert str(blocked) in result.stderr and "Traceback" not in result.stderr, result.stderr

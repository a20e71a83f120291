"""Start the real host (``python -m durable_ext start``) as a child process and talk to it.

Each test gets its own copy of the app directory, so its SQLite task hub starts empty, and a
free loopback port. ``kill()`` is SIGKILL: nothing gets to clean up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_app(source: Path, dest: Path) -> Path:
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns(
            ".durable_ext", "__pycache__", "*.sqlite*", "node_modules", ".venv", ".git", "tests"
        ),
    )
    return dest


def use_azure_storage(app_dir: Path, connection_string: str, partition_count: int = 4) -> None:
    """Point a copied app at Azure Storage (Azurite): host.json storageProvider + the connection setting."""
    host_path = app_dir / "host.json"
    host = json.loads(host_path.read_text()) if host_path.exists() else {"version": "2.0"}
    durable = host.setdefault("extensions", {}).setdefault("durableTask", {})
    durable["storageProvider"] = {"type": "AzureStorage", "partitionCount": partition_count}
    # One Azurite serves the whole session: a fresh hub name keeps each test's hub empty.
    durable["hubName"] = f"E2e{uuid.uuid4().hex[:20]}"
    host_path.write_text(json.dumps(host, indent=2))
    settings_path = app_dir / "local.settings.json"
    settings = json.loads(settings_path.read_text()) if settings_path.exists() else {"IsEncrypted": False}
    settings.setdefault("Values", {})["AzureWebJobsStorage"] = connection_string
    settings_path.write_text(json.dumps(settings, indent=2))


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def is_running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (a zombie has released its sockets, files and locks)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class HostProcess:
    def __init__(
        self, app_dir: Path, *, port: int | None = None, env: dict[str, str] | None = None, source: Path = ROOT
    ) -> None:
        """``source``: the checkout whose ``durable_ext`` runs (bench/bench.py --baseline runs another)."""
        self.app_dir = Path(app_dir)
        self.source = Path(source)
        self.port = port or free_port()
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log_path = self.app_dir / f"host-{self.port}.log"
        self.session = requests.Session()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> HostProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "durable_ext", "start", "--app-dir", str(self.app_dir), "--port", str(self.port)],
            cwd=self.source,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"host exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = self.session.get(f"{self.base_url}/admin/host/status", timeout=2)
                # Serving (401: with keys required, which the test holds) — and with several host
                # processes the one that prints the banner is ready too, whichever answered.
                if (r.status_code == 401 or (r.status_code == 200 and r.json().get("state") == "Running")) and (
                    "Host started." in self.log()
                ):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"host did not become ready:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def host_pids(self) -> set[int]:
        """The processes serving: ``start``'s supervisor runs the host as its child process."""
        return children(self.proc.pid) if self.proc else set()

    def kill(self) -> None:
        """SIGKILL the supervisor and its host process, as an out-of-memory killer or a pulled plug would;
        returns once both are gone (their port and locks are free for the next start)."""
        if self.proc and self.proc.poll() is None:
            hosts = self.host_pids()
            self.proc.send_signal(signal.SIGKILL)
            for pid in hosts:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(10)
            deadline = time.monotonic() + 30
            while any(is_running(pid) for pid in hosts):
                assert time.monotonic() < deadline, f"host processes {hosts} outlived SIGKILL"
                time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM and wait: the clean shutdown path."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    # -- HTTP helpers -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def start_orchestration(self, name: str, body=None, route: str = "api/orchestrators") -> dict:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        r = self.session.post(self.url(f"{route}/{name}"), data=data, headers=headers, timeout=30)
        assert r.status_code == 202, (r.status_code, r.text, self.log()[-3000:])
        return r.json()

    def status(self, instance_id: str, **params) -> requests.Response:
        return self.session.get(
            self.url(f"runtime/webhooks/durabletask/instances/{instance_id}"), params=params, timeout=30
        )

    def wait(self, instance_id: str, timeout: float = 60.0, statuses=("Completed", "Failed", "Terminated")) -> dict:
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            try:
                r = self.status(instance_id)
            except requests.ConnectionError:
                # A keep-alive connection closed by a host process that is being recycled (functionTimeout):
                # the poll is idempotent, the next one reaches the new process.
                time.sleep(0.05)
                continue
            if r.status_code in (200, 202) and r.text:
                body = r.json()
                if body["runtimeStatus"] in statuses:
                    return body
            time.sleep(0.05)
        raise AssertionError(f"instance {instance_id} not done in {timeout}s: {body}\n{self.log()[-4000:]}")

    def client_binding(self, hub: str) -> str:
        """The durableClient binding JSON a function would receive (for the SDK client)."""
        base = f"{self.base_url}/runtime/webhooks/durabletask"
        q = f"taskHub={hub}&connection=Storage"
        return json.dumps(
            {
                "taskHubName": hub,
                "creationUrls": {
                    "createNewInstancePostUri": f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]",
                    "createAndWaitOnNewInstancePostUri": f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}",
                },
                "managementUrls": {
                    "id": "INSTANCEID",
                    "statusQueryGetUri": f"{base}/instances/INSTANCEID?{q}",
                    "sendEventPostUri": f"{base}/instances/INSTANCEID/raiseEvent/{{eventName}}?{q}",
                    "terminatePostUri": f"{base}/instances/INSTANCEID/terminate?reason={{text}}&{q}",
                    "rewindPostUri": f"{base}/instances/INSTANCEID/rewind?reason={{text}}&{q}",
                    "purgeHistoryDeleteUri": f"{base}/instances/INSTANCEID?{q}",
                    "restartPostUri": f"{base}/instances/INSTANCEID/restart?{q}",
                    "suspendPostUri": f"{base}/instances/INSTANCEID/suspend?reason={{text}}&{q}",
                    "resumePostUri": f"{base}/instances/INSTANCEID/resume?reason={{text}}&{q}",
                },
                "baseUrl": base,
                "requiredQueryStringParameters": "",
                "rpcBaseUrl": f"{base}/",
                "httpBaseUrl": None,
            }
        )


def wait_until(condition, timeout: float = 60.0, what: str = "the condition", host: HostProcess | None = None):
    """Poll ``condition()`` every 0.05 s until it returns something true (returned) or ``timeout``
    seconds pass (AssertionError naming ``what``, with the end of ``host``'s log when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    tail = f"\n{host.log()[-3000:]}" if host is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{tail}")


def run_async(coro):
    """Run SDK-client code on a fresh loop, closing the SDK's module-global aiohttp session after.

    The SDK caches one session for the process (SDK ``utils/http_utils.py``); a session from a closed
    loop fails with "Event loop is closed", so each test's loop gets and closes its own.
    """
    from azure.durable_functions.models.utils import http_utils

    async def run():
        try:
            return await coro
        finally:
            session = http_utils._client_session
            http_utils._client_session = None
            if session is not None:
                await session.close()

    return asyncio.run(run())

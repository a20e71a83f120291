"""An app prepared with ``init-worker`` and run by the real Python worker under the mock host.

``WorkerHost`` mirrors ``tests/e2e/hostproc.HostProcess`` (start an orchestration, poll its status,
wait), but every request is an invocation of a function the worker reported: the app's starter for
``/api/orchestrators/…`` and durable_ext's webhook function for the status URLs it handed out.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from durable_ext.auth.keys import Keys
from durable_ext.config import load_config
from durable_ext.worker.init import init_worker
from tests.worker_mode.mockhost import ROOT, HttpResult, MockHost, worker_env

#: What a client would call; the mock host routes on the path only.
PUBLIC_ORIGIN = "https://myapp.example.net"


def deploy_durable_ext(app_dir: Path) -> None:
    """Make durable_ext importable from the app directory, as a deployment's installed packages are.

    The worker rebuilds ``sys.path`` from its own rules (its ``DependencyManager`` drops ``PYTHONPATH``),
    so a link in the app directory (always on the path) stands in for ``.python_packages``.
    """
    link = app_dir / "durable_ext"
    if not link.exists():
        link.symlink_to(ROOT / "durable_ext", target_is_directory=True)


class WorkerHost:
    def __init__(
        self,
        app_dir: Path,
        protos: Any,
        launcher: list[str],
        env: dict[str, str] | None = None,
        host_keys: Keys | None = None,
    ) -> None:
        """``host_keys``: the keys the mock host checks, as the host does in Azure (None: none, as ``func start``)."""
        self.app_dir = Path(app_dir)
        self.host_keys = host_keys
        self.protos = protos
        self.launcher = launcher
        self.extra_env = env or {}
        self.host: MockHost | None = None
        self.metadata: Any = None

    def start(self, timeout: float = 120) -> WorkerHost:
        init_worker(self.app_dir)
        deploy_durable_ext(self.app_dir)
        self.host = MockHost(self.protos, self.host_keys)
        self.host.start_worker(self.app_dir, self.launcher, worker_env(self.app_dir, self.extra_env), timeout)
        init = self.host.init(self.app_dir, timeout)
        assert init.result.status == self.protos.StatusResult.Success, init.result.exception.message
        route_prefix = load_config(self.app_dir).route_prefix
        self.metadata = self.host.index(self.app_dir, route_prefix, timeout)
        return self

    @property
    def indexed(self) -> bool:
        return self.metadata is not None and self.metadata.result.status == self.protos.StatusResult.Success

    def kill(self) -> None:
        if self.host is not None:
            self.host.kill()

    def close(self) -> None:
        if self.host is not None:
            self.host.close()

    def log(self) -> str:
        assert self.host is not None
        return f"{self.host.worker_log()[-6000:]}\n--- rpc_log ---\n{self.host.rpc_log_text()[-6000:]}"

    # -- HTTP through invocations ---------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{PUBLIC_ORIGIN}/{path.lstrip('/')}"

    def http(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> HttpResult:
        assert self.host is not None
        if not url.startswith("http"):
            url = self.url(url)
        data = body if body is None or isinstance(body, bytes | str) else json.dumps(body)
        if data is not None and body is not None and not isinstance(body, bytes | str):
            headers = {"Content-Type": "application/json", **(headers or {})}
        return self.host.http(method, url, data, headers)

    def start_orchestration(self, name: str, body: Any = None, route: str = "api/orchestrators") -> dict:
        r = self.http("POST", f"{route}/{name}", None if body is None else json.dumps(body))
        assert r.status == 202, (r.status, r.body, self.log())
        links = r.json()
        assert urlsplit(links["statusQueryGetUri"]).netloc == urlsplit(PUBLIC_ORIGIN).netloc, links
        return links

    def status(self, instance_id: str, query: str = "") -> HttpResult:
        prefix = load_config(self.app_dir).route_prefix
        path = f"{prefix}/durabletask/instances/{instance_id}".lstrip("/")
        return self.http("GET", self.url(path) + (f"?{query}" if query else ""))

    def wait(self, instance_id: str, timeout: float = 90.0, statuses=("Completed", "Failed", "Terminated")) -> dict:
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            r = self.status(instance_id)
            if r.status in (200, 202) and r.body:
                body = r.json()
                if body["runtimeStatus"] in statuses:
                    return body
            time.sleep(0.1)
        raise AssertionError(f"instance {instance_id} not done in {timeout}s: {body}\n{self.log()}")

"""Start and stop Azurite (the Azure Storage emulator) for tests.

``Azurite.start()`` runs the emulator installed by npm in ``node_modules/`` on loopback with ports
chosen by the OS and its data in a temporary directory (removed by ``stop()``), waits until all
three services listen and returns an object whose ``connection_string`` uses the well-known
development account ``devstoreaccount1``. ``stop()`` kills exactly that process. Set ``DURABLE_EXT_AZURITE`` to a
connection string to use an already running emulator instead (then nothing is started or stopped).

``azure_provider`` and ``AzureHubs`` open Azure Storage providers on it for tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# The storage emulator's published development-account key (Azurite README); not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ENV_CONNECTION = "DURABLE_EXT_AZURITE"
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at http://[^:]+:(\d+)")


def azurite_binary() -> Path | None:
    """The npm-installed launcher, or None when ``npm install`` has not been run."""
    path = ROOT / "node_modules" / ".bin" / "azurite"
    return path if path.exists() else None


def connection_string(blob: int, queue: int, table: int, host: str = "127.0.0.1") -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://{host}:{blob}/{ACCOUNT};"
        f"QueueEndpoint=http://{host}:{queue}/{ACCOUNT};"
        f"TableEndpoint=http://{host}:{table}/{ACCOUNT};"
    )


class Azurite:
    """One emulator process (or an external one named by ``DURABLE_EXT_AZURITE``)."""

    def __init__(self, connection: str, process: subprocess.Popen | None, workdir: str | None) -> None:
        self.connection_string = connection
        self.process = process
        self._workdir = workdir
        self._drain: threading.Thread | None = None

    @classmethod
    def start(cls, timeout: float = 120.0) -> Azurite:
        # 120 s, not 30: on a loaded 2-core machine Node alone took over 30 s to get the three services up.
        external = os.environ.get(ENV_CONNECTION)
        if external:
            return cls(external, None, None)
        binary = azurite_binary()
        if binary is None:
            raise RuntimeError("Azurite is not installed: run `npm install` in the repository (see README).")
        workdir = tempfile.mkdtemp(prefix="azurite-")
        args = [str(binary), "--location", workdir, "--silent", "--skipApiVersionCheck", "--loose"]
        # On disk, not --inMemoryPersistence: the in-memory extent store's garbage collection deletes
        # dead extents (every consumed queue message is one) at ~8 ms each while the emulator
        # serves nothing, freezing all three services for 15-20 s once a few thousand have piled
        # up — stalls that looked like runtime bugs. The file store collects without freezing.
        for service in ("blob", "queue", "table"):
            args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", "0"]
        if os.environ.get("AZURITE_DEBUG_LOG"):  # Azurite's own request/GC log, to diagnose the emulator
            args += ["--debug", os.environ["AZURITE_DEBUG_LOG"]]
        process = subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ports = _read_ports(process, timeout)
        if ports is None:
            process.kill()
            process.wait()
            shutil.rmtree(workdir, ignore_errors=True)
            raise RuntimeError("Azurite did not start listening in time")
        # Keep draining its output so a chatty emulator never blocks on a full pipe.
        drain = threading.Thread(target=_drain, args=(process,), daemon=True)
        drain.start()
        emulator = cls(connection_string(ports["Blob"], ports["Queue"], ports["Table"]), process, workdir)
        emulator._drain = drain
        return emulator

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            if self._drain is not None:
                self._drain.join(timeout=5)  # EOF once the process is gone
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)


def _read_ports(process: subprocess.Popen, timeout: float) -> dict[str, int] | None:
    """Parse the three "successfully listening" lines Azurite prints (also with ``--silent``)."""
    ports: dict[str, int] = {}
    found = threading.Event()

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = _LISTENING.search(line)
            if match:
                ports[match.group(1)] = int(match.group(2))
                if len(ports) == 3:
                    found.set()
                    return
        found.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    found.wait(max(0.0, deadline - time.monotonic()))
    return ports if len(ports) == 3 else None


def _drain(process: subprocess.Popen) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass


def azure_provider(connection: str, hub: str, **settings):
    """An Azure Storage provider on ``connection`` with a worker id of its own (one per object,
    as two provider objects in one test stand for two worker processes)."""
    import uuid

    from durable_ext.providers.azure_storage import AzureSettings, AzureStorageProvider

    settings.setdefault("worker_id", f"test-{uuid.uuid4().hex[:8]}")
    return AzureStorageProvider(hub, AzureSettings(connection_string=connection, **settings))


def new_hub(prefix: str = "Az") -> str:
    import uuid

    return prefix + uuid.uuid4().hex[:12]


class AzureHubs:
    """Azure providers opened on one emulator for one test; ``close_all`` closes them on ``run``."""

    def __init__(self, connection: str, run) -> None:
        self.connection = connection
        self.run = run
        self.opened: list = []

    def open(self, hub: str | None = None, *, create: bool = True, **settings):
        provider = azure_provider(self.connection, hub or new_hub(), **settings)
        self.opened.append(provider)
        if create:
            self.run(provider.create_hub())
        return provider

    def close_all(self) -> None:
        while self.opened:
            self.run(self.opened.pop().close())

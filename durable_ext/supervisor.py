"""``durable_ext start``'s supervisor: it owns the listening socket and runs the host as a child process.

Why a process and not a thread or a pool of user-code workers: user code runs in threads of the host
process, and a Python thread cannot be stopped. The Functions host has the same problem with its
language workers and solves it by recycling the worker process after a function timeout; this does
the same. When an invocation outlives ``functionTimeout`` the host process fails it durably, stops
taking work, lets the other running work finish briefly, and exits with ``RECYCLE_EXIT_CODE``; the
supervisor starts a fresh host at once (``dispatcher.timeouts``). The alternative — running user code
in worker processes — would put a process hop (and a serialization) on every episode and activity
and split the in-memory caches of orchestrations (played history, extended sessions) across processes;
a recycle instead costs one app load per runaway, which is rare. Worker-extension mode (inside the
Functions Python worker) has neither: there the Functions host owns the process and its timeouts.

With app setting ``FUNCTIONS_WORKER_PROCESS_COUNT`` above 1 (the Functions host's count of language
worker processes) it runs that many host processes, all accepting connections on its one socket
and sharing the task hub, each with its own dispatchers: a Python process runs user code on one
core at a time. An instance stays with the process that committed it last, where its session is
(SQLite: ``sqlite_schema.AFFINITY_GRACE_US``). Each process is restarted on its own.

The supervisor keeps the listening socket open across recycles, so HTTP clients queue in its backlog
instead of being refused while a new host starts. It is small and imports nothing heavy: no user
code ever runs in it, so it always answers signals.

* SIGTERM / SIGINT: forwarded to the host as SIGTERM; if the host has not ended ``stop_timeout``
  seconds later it is killed. The supervisor then exits — bounded whatever user code is doing.
* kill -9 of the supervisor: the host gets SIGKILL from the kernel (``PR_SET_PDEATHSIG``), so nothing
  keeps running or listening, exactly as kill -9 of a single process.
* Host exit status 2 (bad configuration or app): printed by the host, the supervisor stops the
  others and exits 2. ``RECYCLE_EXIT_CODE``: restart at once. Any other crash: restart after a short
  pause; five crashes within a minute end the supervisor with status 1.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from durable_ext.dispatcher.timeouts import RECYCLE_EXIT_CODE
from durable_ext.errors import ConfigError
from durable_ext.log import logger

#: Tells the host it runs under a supervisor: the supervisor's pid (the host dies with it).
SUPERVISOR_PID_ENV = "DURABLE_EXT_SUPERVISOR_PID"
#: Which of the supervisor's host processes this is, "slot/count" ("0/2"): only the first prints the banner.
HOST_SLOT_ENV = "DURABLE_EXT_HOST_SLOT"
#: The CPU a host process binds itself to (``cpu_plan``), set by its supervisor.
HOST_CPU_ENV = "DURABLE_EXT_HOST_CPU"
_PR_SET_PDEATHSIG = 1
_CRASH_WINDOW = 60.0
_MAX_CRASHES = 5


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, inheritable by the host process."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    sock.set_inheritable(True)
    return sock


def host_slot() -> tuple[int, int]:
    """(index, count) of this host process among its supervisor's; (0, 1) when it runs alone."""
    try:
        index, count = (int(part) for part in os.environ.get(HOST_SLOT_ENV, "0/1").split("/"))
    except ValueError:
        return 0, 1
    return index, count


def cpu_plan(processes: int, pin: bool) -> list[int] | None:
    """The CPUs host process ``k`` of ``processes`` is bound to in turn (``k`` modulo their number),
    or None to let the OS place them.

    A host process runs Python on one core at a time (the GIL), and every step of an orchestration
    hands work between its event loop and its user-code threads. On a CPU of its own those
    hand-offs are plain context switches; spread over CPUs each one wakes another CPU, which on the
    2-core VMs measured here doubles its cost (a thread round trip: 32 vs 80 µs): bound, the
    default two processes did 19 % more HelloSequence5 per second with 18 % lower start-and-wait
    latency (interleaved A/B, bench app). Only when the supervisor runs several processes: it
    then owns the machine's cores, and a lone host process (or several separate ``start``s)
    keeps the OS's placement.
    """
    if not pin or processes < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return allowed if len(allowed) >= 2 else None


def pin_to_host_cpu() -> None:
    """In the host process: bind to the CPU its supervisor chose (``cpu_plan``), if any."""
    cpu = os.environ.get(HOST_CPU_ENV)
    if not cpu:
        return
    try:
        os.sched_setaffinity(0, {int(cpu)})
    except (OSError, ValueError, AttributeError):
        pass  # the CPU left this process's set meanwhile: run where the OS puts it


def die_with_supervisor() -> None:
    """In the host process: get SIGKILL when the supervisor dies (Linux), and exit if it already has."""
    expected = os.environ.get(SUPERVISOR_PID_ENV)
    if not expected:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: a supervisor killed with -9 leaves the host running until it is stopped
    if str(os.getppid()) != expected:
        os._exit(1)  # the supervisor died before prctl took effect


class Supervisor:
    """Run ``processes`` × ``python -m durable_ext start <args> --listen-fd N`` until stopped; see the
    module docstring. Every host process accepts connections on the one listening socket."""

    def __init__(
        self,
        host_args: Sequence[str],
        sock: socket.socket,
        *,
        processes: int = 1,
        stop_timeout: float = 20.0,
        cpus: list[int] | None = None,
    ) -> None:
        """``cpus``: bind host process ``k`` to ``cpus[k % len(cpus)]`` (``cpu_plan``); None: don't."""
        self.host_args = list(host_args)
        self.sock = sock
        self.cpus = cpus
        self.stop_timeout = stop_timeout
        self.children: list[subprocess.Popen | None] = [None] * processes
        self.restart_at: dict[int, float] = {}  # slot -> when its crashed host starts again
        self.stopping_since: float | None = None
        self.crashes: list[float] = []
        self.result: int | None = None

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in range(len(self.children)):
            self._spawn(slot)
        while True:
            for slot, child in enumerate(self.children):
                if child is not None and (code := child.poll()) is not None:
                    self.children[slot] = None
                    self._ended(slot, code)
            if self.stopping_since is not None:
                self.restart_at.clear()
                if all(child is None for child in self.children):
                    return self.result or 0
                if time.monotonic() - self.stopping_since > self.stop_timeout:
                    logger.error("The host process did not stop within %.0fs; killing it.", self.stop_timeout)
                    for child in self.children:
                        if child is not None and child.poll() is None:
                            child.kill()
                    self.stopping_since = time.monotonic()  # and wait for them to be reaped
            now = time.monotonic()
            for slot, when in list(self.restart_at.items()):
                if when <= now:
                    del self.restart_at[slot]
                    self._spawn(slot)
            time.sleep(0.1)

    def _ended(self, slot: int, code: int) -> None:
        """Host process ``slot`` exited with ``code``: start it again, or stop them all."""
        if self.stopping_since is not None:
            if code not in (0, -signal.SIGTERM, -signal.SIGKILL) and self.result is None:
                self.result = code
            return
        if code == RECYCLE_EXIT_CODE:
            logger.info("Starting a new host process (the previous one was recycled).")
            self._spawn(slot)
            return
        if code in (0, 2):
            self._stop_all(code)
            return
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < _CRASH_WINDOW] + [now]
        if len(self.crashes) >= _MAX_CRASHES:
            logger.error("The host process crashed %d times within a minute; giving up.", len(self.crashes))
            self._stop_all(1)
            return
        logger.error("The host process ended unexpectedly (status %s); starting a new one.", code)
        self.restart_at[slot] = now + 1.0

    def _spawn(self, slot: int) -> None:
        fd = self.sock.fileno()
        env = {**os.environ, SUPERVISOR_PID_ENV: str(os.getpid()), HOST_SLOT_ENV: f"{slot}/{len(self.children)}"}
        env.pop(HOST_CPU_ENV, None)
        if self.cpus:
            env[HOST_CPU_ENV] = str(self.cpus[slot % len(self.cpus)])
        self.children[slot] = subprocess.Popen(
            [sys.executable, "-m", "durable_ext", "start", *self.host_args, "--listen-fd", str(fd)],
            pass_fds=(fd,),
            env=env,
        )
        if self.stopping_since is not None:  # a signal arrived while starting it
            self._forward()

    def _stop_all(self, result: int) -> None:
        self.result = result
        self.stopping_since = time.monotonic()
        self._forward()

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
        self._forward()

    def _forward(self) -> None:
        for child in self.children:
            if child is not None and child.poll() is None:
                try:
                    child.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass

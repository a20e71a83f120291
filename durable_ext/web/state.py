"""What every handler of the web layer needs, stored once on the aiohttp application."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from aiohttp import web

from durable_ext.auth.access import OPEN, AccessPolicy
from durable_ext.client import DurableClient
from durable_ext.config import HostConfig
from durable_ext.functions.registry import Registry
from durable_ext.hubs import HubAddress, HubResolver
from durable_ext.web.links import DEFAULT_LINKS, LinkSettings


@dataclass(frozen=True, slots=True)
class WebState:
    config: HostConfig
    client: DurableClient
    registry: Registry
    executor: Executor | None
    #: The host's live status (hub, storage, worker, uptime); None when the web app runs alone (tests).
    dispatcher_status: Callable[[], dict] | None
    #: ``time.monotonic()`` when the app was created: the uptime when no dispatcher status is given.
    started_at: float
    host_id: str
    #: Keys, Host and Origin rules; OPEN (nothing checked) when the app is built without one.
    access: AccessPolicy = OPEN

    @property
    def link_code(self) -> str | None:
        """The ``code=`` links handed out carry: the durable system key when keys are required."""
        return self.access.keys.system_key if self.access.keys is not None else None
    #: Opens the hubs that bindings and ``taskHub``/``connection`` parameters name.
    hubs: HubResolver | None = None
    #: The hub of the request being served (a per-request copy of the state); None: the app's own.
    address: HubAddress | None = None
    #: Where the built-in API is served and what its links carry.
    links: LinkSettings = DEFAULT_LINKS


STATE: web.AppKey[WebState] = web.AppKey("durable_ext_state", WebState)


def state_of(request: web.Request) -> WebState:
    return request.app[STATE]

"""The access policy of one host: keys on or off, the Host allow-list and the Origin check.

* **Keys** (``DURABLE_EXT_AUTH`` = ``auto`` | ``on`` | ``off``, app setting or environment; the
  ``--auth`` option wins): ``auto`` requires keys unless the host is bound to a loopback address
  only — ``func start`` checks no keys locally, a host reachable from other machines must.
* **Host** (DNS rebinding: a page on ``evil.example`` whose name resolves to this machine makes the
  browser send ``Host: evil.example``): accepted are IP literals, ``localhost``, this machine's
  name, ``WEBSITE_HOSTNAME`` and those listed in ``DURABLE_EXT_ALLOWED_HOSTS`` (comma-separated,
  ``*`` for any);
  anything else is a 400, as ASP.NET's host filtering answers.
* **Origin** (cross-site form posts: a page elsewhere can POST ``text/plain`` to any URL without a
  CORS preflight): a request that can change something (any method but GET/HEAD/OPTIONS) carrying
  an ``Origin`` other than the host's own, or marked ``Sec-Fetch-Site: cross-site``, is a 403
  unless the origin is listed in local.settings.json ``Host.CORS`` (as ``func start`` reads it) or
  ``DURABLE_EXT_ALLOWED_ORIGINS``.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from durable_ext.auth.keys import AuthLevel, Keys
from durable_ext.errors import ConfigError

AUTH_SETTING = "DURABLE_EXT_AUTH"
ALLOWED_HOSTS_SETTING = "DURABLE_EXT_ALLOWED_HOSTS"
ALLOWED_ORIGINS_SETTING = "DURABLE_EXT_ALLOWED_ORIGINS"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthMode(Enum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"

    @classmethod
    def parse(cls, text: str | None, where: str) -> AuthMode:
        value = (text or "auto").strip().lower()
        for mode in cls:
            if mode.value == value:
                return mode
        raise ConfigError(f"{where} is '{text}'; use 'auto', 'on' or 'off'.")


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """``keys`` is None when keys are not checked; ``allowed_hosts`` None accepts any Host."""

    keys: Keys | None
    allowed_hosts: frozenset[str] | None
    allowed_origins: frozenset[str]

    @property
    def keys_required(self) -> bool:
        return self.keys is not None

    def host_allowed(self, host_header: str | None) -> bool:
        """True for a Host header naming this host (see the module docstring)."""
        if self.allowed_hosts is None or host_header is None:
            return True  # no Host at all (an HTTP/1.0 probe) names no one: nothing to rebind
        name = _host_name(host_header)
        if name is None:
            return False
        return _is_ip(name) or name in self.allowed_hosts

    def origin_allowed(self, method: str, origin: str | None, fetch_site: str | None, host_header: str | None) -> bool:
        """False for a state-changing request a browser sent on behalf of another site."""
        if method.upper() in SAFE_METHODS:
            return True
        if origin is None:
            return (fetch_site or "").strip().lower() != "cross-site"
        origin = origin.strip().lower().rstrip("/")
        if origin in self.allowed_origins or "*" in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (sandboxed frames, file: pages) and anything unparsable
        return parts.netloc == (host_header or "").strip().lower()

    def granted(self, presented: str | None, function_name: str | None = None) -> AuthLevel:
        """The level a request presenting ``presented`` has; everything when keys are off."""
        if self.keys is None:
            return AuthLevel.ADMIN
        return self.keys.level_of(presented, function_name)


#: No keys, no Host or Origin restrictions: what a web app built without a policy (tests) gets.
OPEN = AccessPolicy(keys=None, allowed_hosts=None, allowed_origins=frozenset({"*"}))


def is_loopback(bind_host: str) -> bool:
    if bind_host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind_host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_access(
    *,
    bind_host: str,
    settings: Mapping[str, str],
    cors_origins: Iterable[str] = (),
    mode: AuthMode | None = None,
    keys: Keys | None,
) -> AccessPolicy:
    """The policy for a host bound to ``bind_host``; ``keys`` are used when keys are required.

    ``mode`` (the command line) wins over the ``DURABLE_EXT_AUTH`` setting.
    """
    if mode is None:
        mode = AuthMode.parse(settings.get(AUTH_SETTING), AUTH_SETTING)
    required = mode is AuthMode.ON or (mode is AuthMode.AUTO and not is_loopback(bind_host))
    if required and keys is None:
        raise ConfigError("Keys are required but none were loaded.")
    listed = _split(settings.get(ALLOWED_HOSTS_SETTING))
    if "*" in listed:
        hosts: frozenset[str] | None = None
    else:
        names = {"localhost", socket.gethostname().lower()}
        if settings.get("WEBSITE_HOSTNAME"):  # App Service names the site this way
            names.add(_host_name(settings["WEBSITE_HOSTNAME"]) or "")
        if not _is_ip(bind_host.strip("[]")) and bind_host not in ("", "0.0.0.0", "::"):
            names.add(bind_host.lower())
        hosts = frozenset(names | {_host_name(h) or h for h in listed})
    origins = frozenset(
        o.strip().lower().rstrip("/")
        for o in (*cors_origins, *_split(settings.get(ALLOWED_ORIGINS_SETTING)))
        if o.strip()
    )
    return AccessPolicy(keys=keys if required else None, allowed_hosts=hosts, allowed_origins=origins)


def _split(text: str | None) -> list[str]:
    return [part.strip().lower() for part in (text or "").split(",") if part.strip()]


def _host_name(host_header: str) -> str | None:
    """The name or address of a ``Host`` header without its port; None when malformed."""
    text = host_header.strip().lower()
    if not text:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (text[end + 1 :] and not text[end + 1 :].startswith(":")):
            return None
        return text[1:end]
    name, _, port = text.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


@functools.lru_cache(maxsize=64)  # asked for every request's Host; bounded, as any header may be sent
def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True

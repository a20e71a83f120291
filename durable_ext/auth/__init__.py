"""Keys and access rules for the host's HTTP surface, as the Functions host has them.

``keys`` — the master key, host and per-function keys and the ``durabletask_extension`` system
key: where they are stored, how deployments set them, which level a presented key grants.
``access`` — the whole policy for one host: whether keys are required (off on loopback, as with
``func start``; on beyond it), the ``Host`` allow-list against DNS rebinding and the ``Origin``
check against cross-site posts. Neither module imports aiohttp, so the worker-extension mode can
apply the same rules to requests it receives another way.
"""

from durable_ext.auth.access import AccessPolicy, AuthMode, resolve_access
from durable_ext.auth.keys import SYSTEM_KEY_NAME, AuthLevel, Keys, load_keys

__all__ = ["SYSTEM_KEY_NAME", "AccessPolicy", "AuthLevel", "AuthMode", "Keys", "load_keys", "resolve_access"]

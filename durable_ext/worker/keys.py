"""The key worker mode's links carry, so that the Functions host lets them through to the webhook function.

The host checks keys itself, before the worker sees a request. For an HTTP function of auth level
``function`` it takes the key from the ``x-functions-key`` header or the ``code`` query parameter
(``AuthenticationLevelHandler``) and accepts that function's own keys, the host function keys and the master
key — not system keys: the Function level is required exactly, or Admin (``AuthUtility.
PrincipalHasAuthLevelClaim``). So the durable system key ``durable_ext start`` puts into its links would be
refused here. For level ``admin`` only the master key opens the function; ``anonymous`` needs none.

The worker cannot ask the host for its keys. It reads them with :func:`durable_ext.auth.keys.read_keys`
where the host keeps them readable, in the host's own names and formats:

* app settings named as the host's Kubernetes secret store names keys — ``functions.durable_ext_webhooks.<name>``
  (that function's keys) and ``host.function.<name>`` (host keys). In App Service the host keeps keys in
  blob storage, encrypted: give the key a value you choose
  (``az functionapp function keys set --function-name durable_ext_webhooks --key-name default --key-value …``)
  and set the same value as the app setting ``functions.durable_ext_webhooks.default``;
* ``AzureWebJobsSecretStorageType=files``: the host's key files (``FUNCTIONS_SECRETS_PATH``, else
  ``$HOME/data/Functions/secrets`` on App Service), unless encrypted (a startup error says so);
* ``AzureWebJobsSecretStorageType=kubernetes`` (or ``containerapp``): the key files mounted in
  ``/run/secrets/functions-keys``.

``DURABLE_EXT_SECRETS_PATH`` points either store elsewhere. The function's own key wins over a host key
(it opens only the webhooks), ``default`` first; the master key is never put into a link.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from durable_ext.auth.keys import CONTAINER_APPS_SECRETS_DIR, SECRETS_PATH_ENV, STORAGE_TYPE_SETTING, Keys, read_keys

#: The host's own setting for where its key files are (``WebScriptHostConfigurationSource``).
HOST_SECRETS_PATH_SETTING = "FUNCTIONS_SECRETS_PATH"


def host_keys(settings: Mapping[str, str], function_name: str) -> tuple[Keys, str]:
    """The keys readable here for ``function_name`` and where they were looked for (for error messages)."""
    kind = (settings.get(STORAGE_TYPE_SETTING) or "").strip().lower()
    override = settings.get(SECRETS_PATH_ENV)
    files = dotted = None
    if kind == "files":
        files = Path(override) if override else _host_files_dir(settings)
    elif kind in ("kubernetes", "containerapp"):
        dotted = Path(override) if override else CONTAINER_APPS_SECRETS_DIR
    keys = read_keys(settings, [function_name], files=files, dotted=dotted)
    where = "app settings"
    if files is not None or dotted is not None:
        where += f" and {STORAGE_TYPE_SETTING}={kind} key files in {files or dotted}"
    return keys, where


def function_level_key(keys: Keys, function_name: str) -> str | None:
    """The key to hand out for a function-level function: its own, else a host function key."""
    for candidates in (keys.functions.get(function_name.lower(), {}), keys.host):
        if candidates:
            return candidates.get("default") or candidates[sorted(candidates)[0]]
    return None


def _host_files_dir(settings: Mapping[str, str]) -> Path | None:
    configured = settings.get(HOST_SECRETS_PATH_SETTING)
    if configured:
        return Path(configured)
    home = settings.get("HOME") or os.environ.get("HOME")
    if settings.get("WEBSITE_INSTANCE_ID") and home:
        return Path(home) / "data" / "Functions" / "secrets"
    return None

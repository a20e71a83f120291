"""The exceptions durable_ext raises on purpose: every one of them is a ``DurableExtError``.

Orchestration, activity and entity failures in user code end up as data (``FailureDetails`` in
history), never as these exceptions escaping the runtime. These are for a misconfigured host, an app
that cannot be loaded, storage operations that fail, requests that cannot be served, and the few
signals passed between layers; anything else escaping the package is a bug.

Tree (classes defined elsewhere are named with their module; they live beside the one piece of code
that raises them)::

    DurableExtError
    ├── ConfigError                     host.json / local.settings.json / environment is invalid
    ├── AppLoadError                    function_app.py cannot be loaded
    ├── FunctionTimeoutError            an invocation outlived host.json functionTimeout
    ├── HandOffDeclined                 an instance changed since this process committed it (nothing written)
    ├── ProviderError                   a task hub storage operation failed (providers raise only these)
    │   ├── LockLostError               the work item's lock was lost; its commit was rejected
    │   ├── InstanceExistsError         the instance id is taken
    │   ├── StorageUnavailableError     the hub's storage is gone or replaced under the host
    │   ├── InvalidContinuationTokenError   a query's continuation token was not issued here (also a ValueError)
    │   └── providers.azure_storage.envelope.EnvelopeError   an unreadable queue message
    ├── client.ClientError              a management request that cannot be done (message for the caller)
    │   ├── client.BadRequestError      → 400
    │   │   └── hubs.HubAddressError    an invalid task hub name or unknown connection
    │   ├── client.NotFoundError        → 404
    │   └── client.GoneError            → 410
    ├── core.actions.ActionParseError   the orchestrator returned an action the runtime does not know
    ├── functions.invoke.ActivityFailure   an activity invocation failed (becomes TaskFailed)
    ├── testing.driver.HarnessError     the test kit cannot go on (a runtime bug, a wait that cannot end)
    └── web.responses.WebError          request parsing answers with a ready response

``ActionParseError`` and ``EnvelopeError`` are also ``ValueError`` s (both are malformed input).
"""


class DurableExtError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(DurableExtError):
    """host.json / local.settings.json / environment is invalid; the message names the setting."""


class AppLoadError(DurableExtError):
    """function_app.py could not be loaded or registered."""


class FunctionTimeoutError(DurableExtError):
    """An invocation ran longer than host.json ``functionTimeout``; the message is the Functions host's
    ("Timeout value of hh:mm:ss was exceeded by function: Functions.<name>")."""


class ProviderError(DurableExtError):
    """A task hub storage operation failed."""


class HandOffDeclined(DurableExtError):
    """A provider would not continue an instance from this process's last commit of it (another
    message, lock or commit came in between); nothing was written — take the usual way."""


class LockLostError(ProviderError):
    """A work item's lock expired or was taken by another worker; its commit was rejected."""


class InstanceExistsError(ProviderError):
    """An instance with this id already exists in a state that forbids re-creating it."""


class StorageUnavailableError(ProviderError):
    """The task hub's storage is gone or replaced under the running host (a deleted SQLite file): it
    acknowledges no more work until restarted. The message names the storage."""


class InvalidContinuationTokenError(ProviderError, ValueError):
    """A query's continuation token is not one this provider issued (the caller's input is bad)."""

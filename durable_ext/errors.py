"""The exceptions durable_ext raises on purpose.

Orchestration, activity and entity failures in user code are data (``FailureDetails`` in history), never
these exceptions. These are for a misconfigured host, an app that cannot be loaded, and storage
operations that fail; anything else escaping the package is a bug.

Tree::

    DurableExtError
    ├── ConfigError
    ├── AppLoadError
    └── ProviderError
        ├── LockLostError
        ├── InstanceExistsError
        └── InvalidContinuationTokenError (also a ValueError)
"""


class DurableExtError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(DurableExtError):
    """host.json / local.settings.json / environment is invalid; the message names the setting."""


class AppLoadError(DurableExtError):
    """function_app.py could not be loaded or registered."""


class ProviderError(DurableExtError):
    """A task hub storage operation failed."""


class LockLostError(ProviderError):
    """A work item's lock expired or was taken by another worker; its commit was rejected."""


class InstanceExistsError(ProviderError):
    """An instance with this id already exists in a state that forbids re-creating it."""


class InvalidContinuationTokenError(ProviderError, ValueError):
    """A query's continuation token is not one this provider issued (the caller's input is bad)."""

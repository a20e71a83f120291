"""durable_ext: run Azure Durable Functions Python apps on a pure-Python runtime."""

__version__ = "0.1.0"

"""aiohttp server side: the app's HTTP functions, the built-in durable HTTP API (also the SDK
client's RPC endpoint) and the admin endpoints. ``create_web_app`` is the entry point."""

from durable_ext.web.app import create_web_app, host_id
from durable_ext.web.links import client_binding_json

__all__ = ["client_binding_json", "create_web_app", "host_id"]

"""The monitor: a web page for a task hub, served under the built-in webhook path.

``GET /runtime/webhooks/durabletask/monitor`` answers one self-contained HTML document (its style
sheet and script, shipped in ``static/``, are inlined), so the page needs nothing from the internet
and makes no second request that would need the access key again. The script reads the same HTTP
API the SDK client uses (``instances``, ``entities`` … beside it), sending every request to the
page's own origin with the ``code``, ``taskHub`` and ``connection`` query values the page was
opened with. Because it lives under the webhook path, whatever access rules guard that path guard
the monitor too.

The page is served with a Content-Security-Policy that allows exactly the inlined script and style
(by hash) and requests to the same origin, and with ``no-store`` / ``no-referrer`` because its URL
may carry a key.
"""

from __future__ import annotations

import base64
import hashlib
import html
from functools import cache
from importlib import resources

from aiohttp import web

from durable_ext import __version__
from durable_ext.web.state import WebState

MONITOR_ROUTE = "monitor"
_PLACEHOLDERS = ("/*STYLE*/", "/*SCRIPT*/", "{{VERSION}}")


@cache
def _page() -> tuple[bytes, str]:
    """The page and its Content-Security-Policy, built once from the packaged files."""
    static = resources.files(__package__) / "static"
    html = (static / "index.html").read_text(encoding="utf-8")
    style = (static / "monitor.css").read_text(encoding="utf-8")
    script = (static / "monitor.js").read_text(encoding="utf-8")
    for marker in _PLACEHOLDERS:
        if html.count(marker) != 1:
            raise RuntimeError(f"monitor index.html must contain {marker} exactly once")
    page = html.replace("/*STYLE*/", style).replace("/*SCRIPT*/", script).replace("{{VERSION}}", __version__)
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src '{_digest(script)}'",
            f"style-src '{_digest(style)}'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return page.encode("utf-8"), policy


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


async def monitor_page(request: web.Request, state: WebState) -> web.Response:
    page, policy = _page()
    body = page.replace(b"{{HUB}}", html.escape(state.config.hub_name).encode("utf-8"))
    return web.Response(
        body=body,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": policy,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
    )

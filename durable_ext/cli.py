"""``python -m durable_ext start | delete-hub``.

``start`` serves an app directory (its host.json, local.settings.json and function_app.py) the
way ``func start`` does. Configuration and app-loading errors print one clear message and exit
with status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from durable_ext.config import load_config
from durable_ext.errors import DurableExtError
from durable_ext.log import configure_console


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m durable_ext", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="serve a function app directory")
    start.add_argument("--app-dir", default=".", type=Path, help="directory with function_app.py (default: .)")
    start.add_argument("--port", type=int, default=None, help="HTTP port (default: Host.LocalHttpPort or 7071)")
    start.add_argument("--host", default=None, help="bind address (default: 127.0.0.1)")
    start.add_argument(
        "--auth",
        choices=["auto", "on", "off"],
        default=None,
        help="require function keys: auto (default) = only when bound beyond loopback; also DURABLE_EXT_AUTH",
    )
    start.add_argument("--verbose", action="store_true", help="debug logging")
    delete = sub.add_parser("delete-hub", help="delete the app's task hub and everything in it")
    delete.add_argument("--app-dir", default=".", type=Path)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_console(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    try:
        if args.command == "start":
            return _start(args)
        return _delete_hub(args)
    except DurableExtError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


def _start(args: argparse.Namespace) -> int:
    from durable_ext.auth import AuthMode
    from durable_ext.host import Host

    config = load_config(args.app_dir.resolve(), port=args.port, host=args.host)
    mode = AuthMode(args.auth) if args.auth else None
    asyncio.run(Host(config, auth_mode=mode).run())
    return 0


def _delete_hub(args: argparse.Namespace) -> int:
    from durable_ext.providers.factory import create_provider

    config = load_config(args.app_dir.resolve())
    if not args.yes:
        answer = input(f"Delete task hub '{config.hub_name}' and all its instances? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1

    async def run() -> None:
        provider = create_provider(config)
        try:
            await provider.delete_hub()
        finally:
            await provider.close()

    asyncio.run(run())
    print(f"Task hub '{config.hub_name}' deleted.")
    return 0

"""`kx-edge`: serve, manage sites, check configuration."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from edge.settings import LoadResult, SettingsError, load_settings
from edge.settings.local_secrets import ensure_local_secrets
from edge.sites.keys import new_site, site_problems
from edge.store import SqlSiteStore, open_database
from oauth.crypto import TokenCipher


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        code: int = args.handler(args)
    except SettingsError as exc:
        print("kx-edge: the settings are not usable:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kx-edge", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--env", help="environment section to apply, e.g. staging or production")
        sub.add_argument("--config", type=Path, help="TOML file (default wrangler-like-config/kx-edge.toml)")
        return sub

    serve = with_config(commands.add_parser("serve", help="run the service"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="seed a demo site, sandbox Klaviyo and storefront")
    serve.set_defaults(handler=_serve)

    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(title="config commands")
    check = with_config(config_commands.add_parser("check", help="print effective settings, secrets masked"))
    check.set_defaults(handler=_config_check)

    sites = commands.add_parser("sites", help="sites")
    site_commands = sites.add_subparsers(title="sites commands")
    create = with_config(site_commands.add_parser("create", help="create a site and print its keys"))
    create.add_argument("--name", required=True)
    create.add_argument("--origin", action="append", default=[], help="allowed storefront origin (repeat)")
    create.set_defaults(handler=_sites_create)
    return parser


def _load(args: argparse.Namespace) -> LoadResult:
    loaded = load_settings(env_name=args.env, config_path=args.config)
    for warning in loaded.warnings:
        print(f"kx-edge: warning: {warning}", file=sys.stderr)
    return loaded


def _config_check(args: argparse.Namespace) -> int:
    loaded = _load(args)
    print(json.dumps({"source": str(loaded.source) if loaded.source else None,
                      "settings": loaded.settings.masked()}, indent=2))  # fmt: skip
    if loaded.warnings:
        print(f"kx-edge: {len(loaded.warnings)} problem(s) found", file=sys.stderr)
        return 1
    print("kx-edge: settings OK", file=sys.stderr)
    return 0


def _sites_create(args: argparse.Namespace) -> int:
    settings = ensure_local_secrets(_load(args).settings).settings
    problems = site_problems(args.name, list(args.origin))
    if problems:
        for problem in problems:
            print(f"kx-edge: {problem['path']}: {problem['message']}", file=sys.stderr)
        return 2
    assert settings.secret_key is not None
    cipher = TokenCipher(settings.secret_key, settings.secret_key_old)
    created = new_site(args.name.strip(), tuple(args.origin), cipher, int(time.time()))

    async def save() -> None:
        db = await open_database(settings)
        try:
            await SqlSiteStore(db).create_site(created.record)
        finally:
            await db.close()

    asyncio.run(save())
    print(json.dumps({**created.record.to_public_dict(), "api_key": created.api_key}, indent=2))
    print("kx-edge: the api_key is shown once; store it now.", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from edge.cli.serve import serve

    return serve(
        _load(args),
        host=args.host,
        port=args.port,
        workers=args.workers,
        demo=args.demo,
        config_path=args.config,
    )


if __name__ == "__main__":
    raise SystemExit(main())

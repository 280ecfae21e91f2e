"""`kx-edge`: serve, check configuration, manage sites and their experiences."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from edge.cli import config, experiences, sites
from edge.cli.common import load, with_config
from edge.cli.remote import CommandFailed
from edge.settings import SettingsError


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
    except CommandFailed as exc:
        print(f"kx-edge: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


def version() -> str:
    try:
        return metadata.version("kx-edge")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kx-edge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"kx-edge {version()}")
    commands = parser.add_subparsers(title="commands")

    serve = with_config(commands.add_parser("serve", help="run the service"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="seed a demo site, sandbox Klaviyo and storefront")
    serve.set_defaults(handler=_serve)

    config.add_commands(commands)
    sites.add_commands(commands)
    experiences.add_commands(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from edge.cli.serve import serve

    return serve(
        load(args),
        host=args.host,
        port=args.port,
        workers=args.workers,
        demo=args.demo,
        config_path=args.config,
    )


if __name__ == "__main__":
    raise SystemExit(main())

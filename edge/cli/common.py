"""What every `kx-edge` command shares: the settings options and reading them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.settings import LoadResult, load_settings


def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub.add_argument("--env", help="environment section to apply, e.g. staging or production")
    sub.add_argument("--config", type=Path, help="TOML file (default wrangler-like-config/kx-edge.toml)")
    return sub


def load(args: argparse.Namespace) -> LoadResult:
    """The settings the command's `--env` and `--config` name; their warnings go to stderr."""
    loaded = load_settings(env_name=args.env, config_path=args.config)
    for warning in loaded.warnings:
        print(f"kx-edge: warning: {warning}", file=sys.stderr)
    return loaded


def say(message: str) -> None:
    """A line for the person at the terminal (stderr, so stdout stays the command's data)."""
    print(f"kx-edge: {message}", file=sys.stderr)

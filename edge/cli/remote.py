"""The commands that act on a running kx-edge go through its HTTP API, as any client would.

So the service stays the one place that validates, reloads every worker's runtime, revokes
Klaviyo tokens and deletes data, whatever store backs it; the command line adds confirmation and
readable output. The service's address is `--url`, else the settings' `public_url`, else
`http://127.0.0.1:8787`. Credentials: `KX_EDGE_API_KEY` (a site's api key) when set, else the
operator token (`KX_EDGE_OPERATOR_TOKEN`, or the `operator-token` file `kx-edge serve` keeps in
data_dir on a local run; it is read, never created, here).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge.cli.common import load
from edge.cli.config import DEFAULT_LOCAL_URL
from edge.settings import Settings

API_KEY_ENV = "KX_EDGE_API_KEY"
TIMEOUT_S = 30.0


class CommandFailed(Exception):
    """The command cannot go on; `message` says why (and what to do), `exit_code` for the shell."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def add_remote_options(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub.add_argument("--url", help=f"the kx-edge service (default: public_url, else {DEFAULT_LOCAL_URL})")
    return sub


@dataclass(frozen=True, slots=True)
class Remote:
    """A kx-edge service's API with one credential."""

    base_url: str
    token: str
    credential: str  # what the token is, for messages: "the operator token" or "KX_EDGE_API_KEY"

    def call(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        """The answer's JSON (None for 204); any error answer raises `CommandFailed` naming its code."""
        try:
            with httpx.Client(base_url=self.base_url, timeout=TIMEOUT_S) as client:
                response = client.request(
                    method,
                    path,
                    json=json,
                    headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
                )
        except httpx.TransportError as exc:
            raise CommandFailed(
                f"cannot reach kx-edge at {self.base_url} ({exc.__class__.__name__}): is `kx-edge serve` "
                "running there? --url names another address."
            ) from None
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            return body
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = error.get("code", f"http_{response.status_code}")
        message = error.get("message", response.text[:200])
        if response.status_code == 401:
            message += f" ({self.credential} was refused by {self.base_url})"
        raise CommandFailed(f"{response.status_code} {code}: {message}")


def remote(args: argparse.Namespace) -> Remote:
    settings = load(args).settings
    base_url = (args.url or settings.public_url or DEFAULT_LOCAL_URL).rstrip("/")
    api_key = os.environ.get(API_KEY_ENV)
    if api_key:
        return Remote(base_url, api_key, API_KEY_ENV)
    token = settings.operator_token or _local_operator_token(settings)
    if not token:
        raise CommandFailed(
            f"no credentials: set KX_EDGE_OPERATOR_TOKEN (or {API_KEY_ENV}, a site's api key), or run "
            f"this where `kx-edge serve` keeps {Path(settings.data_dir) / 'operator-token'}.",
            exit_code=2,
        )
    return Remote(base_url, token, "the operator token")


def _local_operator_token(settings: Settings) -> str | None:
    if settings.env is not None:  # named environments never use generated files
        return None
    try:
        return (Path(settings.data_dir) / "operator-token").read_text(encoding="ascii").strip() or None
    except OSError:
        return None

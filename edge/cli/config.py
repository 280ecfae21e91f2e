"""`kx-edge config check`: the effective settings (secrets masked), problems, and what is missing
for merchants to connect Klaviyo."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edge.cli.common import load, say, with_config
from edge.connect.link import CALLBACK_PATH, redirect_uri
from edge.settings import Settings
from oauth.scopes import BASE_SCOPES, EVENTS_SCOPE

DEFAULT_LOCAL_URL = "http://127.0.0.1:8787"  # what `kx-edge serve` answers on without --host/--port


def add_commands(commands: Any) -> None:
    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(title="config commands")
    check = with_config(config_commands.add_parser("check", help="print effective settings, secrets masked"))
    check.set_defaults(handler=config_check)


def shown_redirect_uri(settings: Settings) -> str:
    """The redirect URI to register in Klaviyo's app settings for a server with these settings."""
    if settings.public_url:
        return redirect_uri(settings)
    return f"{DEFAULT_LOCAL_URL}{CALLBACK_PATH} (the default address; set public_url for a public server)"


def klaviyo_app_warnings(settings: Settings) -> list[str]:
    """Why merchants could not connect Klaviyo on a server with these settings, if they could not."""
    if settings.klaviyo_configured:
        return []
    missing = " and ".join(
        name
        for name, value in (
            ("KLAVIYO_CLIENT_ID", settings.klaviyo_client_id),
            ("KLAVIYO_CLIENT_SECRET", settings.klaviyo_client_secret),
        )
        if not value
    )
    return [
        f"Klaviyo is not configured ({missing} not set): merchants cannot connect Klaviyo, so segment "
        "targeting cannot work and the merchant page says Klaviyo is not configured on this server. "
        f"Register an OAuth app in Klaviyo with the redirect URI {shown_redirect_uri(settings)} and the scopes "
        f"{' '.join(BASE_SCOPES)} (plus {EVENTS_SCOPE} for event triggers), then set its client id "
        "and secret in those environment variables (README: Klaviyo app set-up)."
    ]


def config_check(args: argparse.Namespace) -> int:
    loaded = load(args)
    print(json.dumps({"source": str(loaded.source) if loaded.source else None,
                      "settings": loaded.settings.masked()}, indent=2))  # fmt: skip
    notices = klaviyo_app_warnings(loaded.settings)
    for notice in notices:
        say(f"warning: {notice}")
    if loaded.warnings:
        say(f"{len(loaded.warnings)} problem(s) found")
        return 1
    if notices:
        say("the settings are usable, but merchants cannot connect Klaviyo (see the warning above)")
        return 0
    say(f"Klaviyo redirect URI (as registered in the Klaviyo app): {shown_redirect_uri(loaded.settings)}")
    say("settings OK")
    return 0

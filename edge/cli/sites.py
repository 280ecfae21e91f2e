"""`kx-edge sites ...`: create (straight into the store, no server needed); list, show,
rotate-key and delete (through a running service's API, see `edge.cli.remote`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from edge.cli.common import load, say, with_config
from edge.cli.remote import CommandFailed, add_remote_options, remote
from edge.settings.local_secrets import ensure_local_secrets
from edge.sites.keys import new_site, site_problems
from edge.store import SqlSiteStore, open_database
from oauth.crypto import TokenCipher


def add_commands(commands: Any) -> None:
    sites = commands.add_parser("sites", help="sites (operator)")
    site_commands = sites.add_subparsers(title="sites commands")
    create = with_config(site_commands.add_parser("create", help="create a site and print its keys"))
    create.add_argument("--name", required=True)
    create.add_argument("--origin", action="append", default=[], help="allowed storefront origin (repeat)")
    create.set_defaults(handler=create_site)

    listing = _remote_command(site_commands, "list", "list every site", list_sites)
    listing.add_argument("--json", action="store_true", help="print the API's JSON")
    show = _remote_command(site_commands, "show", "a site, its Klaviyo connection and experiences", show_site)
    show.add_argument("site_id")
    show.add_argument("--json", action="store_true", help="print the API's JSON")
    rotate = _remote_command(
        site_commands, "rotate-key", "issue a new api key (the old one keeps a grace period)", rotate_key
    )
    rotate.add_argument("site_id")
    delete = _remote_command(
        site_commands,
        "delete",
        "delete a site: revokes its Klaviyo connection, deletes its data",
        delete_site,
    )
    delete.add_argument("site_id")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _remote_command(commands: Any, name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = add_remote_options(with_config(commands.add_parser(name, help=help_text)))
    sub.set_defaults(handler=handler)
    return sub


def create_site(args: argparse.Namespace) -> int:
    settings = ensure_local_secrets(load(args).settings).settings
    problems = site_problems(args.name, list(args.origin))
    if problems:
        for problem in problems:
            say(f"{problem['path']}: {problem['message']}")
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
    say("the api_key is shown once; store it now.")
    return 0


def list_sites(args: argparse.Namespace) -> int:
    sites = remote(args).call("GET", "/v1/sites")["sites"]
    if args.json:
        print(json.dumps(sites, indent=2))
        return 0
    if not sites:
        say("no sites yet: kx-edge sites create --name NAME --origin https://shop.example.com")
        return 0
    rows = [("ID", "NAME", "PUBLIC KEY", "ORIGINS", "CREATED")] + [
        (s["id"], s["name"], s["public_key"], ", ".join(s["allowed_origins"]) or "-", _day(s["created_at"]))
        for s in sites
    ]
    _table(rows)
    return 0


def show_site(args: argparse.Namespace) -> int:
    api = remote(args)
    path = f"/v1/sites/{args.site_id}"
    site = api.call("GET", path)
    klaviyo = api.call("GET", f"{path}/klaviyo")
    experiences = api.call("GET", f"{path}/experiences")["experiences"]
    if args.json:
        print(json.dumps({"site": site, "klaviyo": klaviyo, "experiences": experiences}, indent=2))
        return 0
    account = klaviyo.get("account_name") or klaviyo.get("account_id")
    rows = [
        ("id", site["id"]),
        ("name", site["name"]),
        ("public key", site["public_key"]),
        ("allowed origins", ", ".join(site["allowed_origins"]) or "none (no storefront can call it)"),
        ("created", _day(site["created_at"])),
        ("klaviyo", klaviyo["status"] + (f" ({account})" if account else "")),
        ("experiences", _experience_counts(experiences)),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
    return 0


def rotate_key(args: argparse.Namespace) -> int:
    rotated = remote(args).call("POST", f"/v1/sites/{args.site_id}/rotate-key")
    print(json.dumps(rotated, indent=2))
    until = _day(rotated["previous_key_valid_until"])
    say(
        f"the new api_key is shown once; store it now. The old key keeps working until {until} "
        f"({rotated['grace_s']} s), then it is refused."
    )
    return 0


def delete_site(args: argparse.Namespace) -> int:
    api = remote(args)
    site = api.call("GET", f"/v1/sites/{args.site_id}")  # names a missing site before asking
    if not args.yes:
        say(
            f"this deletes {site['id']} ({site['name']}): its experiences, Klaviyo connection (revoked "
            "at Klaviyo) and data, for good."
        )
        print(f"Type the site id ({site['id']}) to confirm: ", end="", file=sys.stderr, flush=True)
        typed = sys.stdin.readline().strip()
        if typed != site["id"]:
            raise CommandFailed("not deleted: the typed id does not match (or use --yes).", exit_code=2)
    deleted = api.call("DELETE", f"/v1/sites/{args.site_id}")
    klaviyo = deleted["klaviyo"]
    if klaviyo["was_connected"] and not klaviyo["revoked"]:
        say("Klaviyo did not confirm the revocation: the merchant can remove the app in Klaviyo.")
    say(f"deleted {deleted['id']}" + (" and revoked its Klaviyo connection." if klaviyo["revoked"] else "."))
    return 0


def _experience_counts(experiences: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for experience in experiences:
        counts[experience["status"]] = counts.get(experience["status"], 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def _day(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

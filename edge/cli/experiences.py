"""`kx-edge experiences export|import`: a site's experiences as one JSON document, through a
running service's API (`edge.cli.remote`; `edge.config_api.transfer` says what importing does)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from edge.cli.common import say, with_config
from edge.cli.remote import CommandFailed, add_remote_options, remote


def add_commands(commands: Any) -> None:
    experiences = commands.add_parser("experiences", help="a site's experiences as one JSON document")
    sub = experiences.add_subparsers(title="experiences commands")
    export = add_remote_options(
        with_config(sub.add_parser("export", help="print or save a site's experiences"))
    )
    export.add_argument("site_id")
    export.add_argument("-o", "--output", type=Path, help="write to this file (default: stdout)")
    export.set_defaults(handler=export_experiences)
    imported = add_remote_options(with_config(sub.add_parser("import", help="import an export into a site")))
    imported.add_argument("site_id")
    imported.add_argument("file", help="the export (a path, or - for stdin)")
    imported.add_argument(
        "--on-conflict",
        choices=("fail", "skip", "replace"),
        default="fail",
        help="an id the site already has: fail (default, nothing imported), skip it, or replace it",
    )
    imported.add_argument(
        "--keep-status",
        action="store_true",
        help="give each experience its exported status (default: new ones arrive as drafts)",
    )
    imported.set_defaults(handler=import_experiences)


def export_experiences(args: argparse.Namespace) -> int:
    document = remote(args).call("GET", f"/v1/sites/{args.site_id}/export")
    text = json.dumps(document, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        say(f"{len(document['experiences'])} experience(s) written to {args.output}")
    return 0


def import_experiences(args: argparse.Namespace) -> int:
    document = _read(args.file)
    query = urlencode({"on_conflict": args.on_conflict, "status": "keep" if args.keep_status else "draft"})
    result = remote(args).call("POST", f"/v1/sites/{args.site_id}/import?{query}", json=document)
    for verb in ("created", "replaced", "skipped"):
        if result[verb]:
            say(f"{verb}: {', '.join(result[verb])}")
    for warning in result["warnings"]:
        say(f"warning: {warning['experience_id']}: {warning['message']}")
    if not (result["created"] or result["replaced"] or result["skipped"]):
        say("the export has no experiences: nothing imported")
    print(json.dumps(result, indent=2))
    return 0


def _read(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(f"cannot read {name}: {exc.strerror}", exit_code=2) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CommandFailed(
            f"{name} is not JSON ({exc}); give the file `experiences export` wrote", 2
        ) from None

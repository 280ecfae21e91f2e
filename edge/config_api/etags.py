"""ETags for experiences: the quoted version, and the `If-Match` / `If-None-Match` rules around it.

An experience's ETag is its `version` in quotes (`"3"`), strong: two answers with the same ETag
are the same document. Writes require `If-Match` (428 without it) and answer 412 naming the
current version when it is stale, so two editors never silently overwrite each other. Accepted:
one or more strong tags (`"3"`, `"2", "3"`), `*` (any current version), and a bare `3` for
hand-typed curl commands. A weak tag (`W/"3"`) never satisfies `If-Match` (RFC 9110 13.1.1); it
does satisfy `If-None-Match`, whose comparison is weak.
"""

from __future__ import annotations

from starlette.requests import Request

from edge.web.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque value) for each entity tag in a list header; unreadable entries are kept
    as values that match nothing."""
    found: list[tuple[bool, str]] = []
    for part in header.split(","):
        item = part.strip()
        weak = item.startswith(("W/", "w/"))
        if weak:
            item = item[2:]
        if len(item) >= 2 and item[0] == item[-1] == '"':
            item = item[1:-1]
        found.append((weak, item))
    return found


def if_match(request: Request, current_version: int, what: str) -> None:
    """Refuse the write unless `If-Match` names `current_version` (428 absent, 412 stale)."""
    header = request.headers.get("if-match")
    if header is None or not header.strip():
        raise PreconditionRequired(
            f"Send If-Match with the version you read ({what} is at version {current_version}: "
            f"If-Match: {etag(current_version)}), so concurrent edits cannot overwrite each other.",
            details={"current_version": current_version},
            headers={"ETag": etag(current_version)},
        )
    if header.strip() == "*":
        return
    wanted = str(current_version)
    if any(not weak and value == wanted for weak, value in _tags(header)):
        return
    raise stale(current_version, what, sent=header.strip())


def stale(current_version: int, what: str, *, sent: str | None = None) -> PreconditionFailed:
    """412: someone else changed it since the client read it."""
    sent_text = f" (you sent If-Match: {sent[:80]})" if sent else ""
    return PreconditionFailed(
        f"{what} was changed by someone else since you read it{sent_text}; it is now at version "
        f"{current_version}. Reload it, apply your change again and send If-Match: {etag(current_version)}.",
        code="version_mismatch",
        details={"current_version": current_version},
        headers={"ETag": etag(current_version)},
    )


def not_modified(request: Request, current_version: int) -> bool:
    """Whether `If-None-Match` already names the current version (then answer 304)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    wanted = str(current_version)
    return any(value == wanted for _, value in _tags(header))

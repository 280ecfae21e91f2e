"""Redis key names. The account id is the Cluster hash tag, so one account's keys share a slot
(the budget script touches two of them at once)."""

from __future__ import annotations


def segments(prefix: str, account_id: str, generation: int, kx: str) -> str:
    return f"{prefix}seg:{{{account_id}}}:{generation}:{kx}"


def profile_id(prefix: str, account_id: str, generation: int, kx: str) -> str:
    return f"{prefix}pid:{{{account_id}}}:{generation}:{kx}"


def lock(prefix: str, account_id: str, generation: int, kx: str) -> str:
    return f"{prefix}lock:{{{account_id}}}:{generation}:{kx}"


def filter_refused(prefix: str, account_id: str) -> str:
    return f"{prefix}nofilter:{{{account_id}}}"


def budget(prefix: str, account_id: str, tier: str) -> str:
    return f"{prefix}rl:{{{account_id}}}:{tier}"


def blocked(prefix: str, account_id: str) -> str:
    return f"{prefix}block:{{{account_id}}}"


def account_pattern(prefix: str, account_id: str) -> list[str]:
    """SCAN patterns for every cache key of an account (glob-escaped)."""
    tag = "".join("\\" + c if c in "*?[]\\" else c for c in account_id)
    return [f"{prefix}{kind}:\\{{{tag}\\}}:*" for kind in ("seg", "pid")]

"""Redis key names of the segment sync. The account id is the Cluster hash tag, so an account's
keys share a slot: the scripts that swap an index in, or fence a write with the lease, touch
several of them at once."""

from __future__ import annotations


def members(prefix: str, account_id: str, segment_id: str) -> str:
    """The live index of one segment: a set of profile ids."""
    return f"{prefix}members:{{{account_id}}}:{segment_id}"


def members_next(prefix: str, account_id: str, segment_id: str) -> str:
    """The set a full sync fills, renamed over the live one when complete."""
    return f"{prefix}members-next:{{{account_id}}}:{segment_id}"


def records(prefix: str, account_id: str) -> str:
    """A hash: segment id -> its `SegmentRecord` (state, counts, times, errors)."""
    return f"{prefix}sync:{{{account_id}}}:segments"


def targets(prefix: str, account_id: str) -> str:
    """A hash: site id -> the segments that site's live experiences target."""
    return f"{prefix}sync:{{{account_id}}}:targets"


def lease(prefix: str, account_id: str) -> str:
    """Who syncs the account: the holder's token, with a TTL it keeps renewing."""
    return f"{prefix}sync:{{{account_id}}}:lease"

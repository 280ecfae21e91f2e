"""Which cells a conversion is attributed to: every entry of the visitor's verified token that
names a variation (a test they entered, a personalization they were counted in)."""

from __future__ import annotations

from collections.abc import Mapping

from edge.results.counting import audience_label
from edge.store.results import Attribution
from targeting import StickyEntry


def attributions(entries: Mapping[str, StickyEntry] | None, today: int) -> tuple[Attribution, ...]:
    """None (no token, or one that does not verify for this site and visitor): nothing."""
    if not entries:
        return ()
    return tuple(
        Attribution(
            experience_id,
            entry.variation_id,
            audience_label(entry),
            today if entry.day is None else entry.day,
        )
        for experience_id, entry in sorted(entries.items())
        if entry.variation_id is not None
    )

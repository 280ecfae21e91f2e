"""Who the visitor is, as far as targeting can tell, and the context rules are evaluated in.

The edge resolves the Klaviyo exchange id to one of three identities:

- `identified`: the visitor's profile is known, with the ids of the segments it belongs to
  (only the segments live experiences target need to be present);
- `unidentified`: there is no profile (no `_kx`, malformed `_kx`, or Klaviyo has none);
- `pending`: the answer is not known yet (resolution still running, or Klaviyo failing).

Rules are three-valued (`Truth`): `True`, `False`, or `None` for "unknown", which is what a
segment condition gives while the identity is pending. Visit conditions (url, utm, device, ...)
read only the `Visit`, so they are never unknown, whatever the identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Final, TypeAlias

import msgspec

from targeting.visit import EMPTY_VISIT, Visit


class IdentityKind(StrEnum):
    IDENTIFIED = "identified"
    UNIDENTIFIED = "unidentified"
    PENDING = "pending"


class Identity(msgspec.Struct, frozen=True, gc=False):
    """An identity kind and, when identified, the visitor's segment ids."""

    kind: IdentityKind
    segments: frozenset[str] = frozenset()

    @classmethod
    def identified(cls, segments: Iterable[str]) -> Identity:
        """An identified visitor in `segments` (a frozenset is kept as is, so it can be shared)."""
        if not isinstance(segments, frozenset):
            segments = frozenset(segments)
        return cls(IdentityKind.IDENTIFIED, segments)


UNIDENTIFIED: Final = Identity(IdentityKind.UNIDENTIFIED)
PENDING: Final = Identity(IdentityKind.PENDING)

# True / False / None (unknown): Kleene's three-valued logic.
Truth: TypeAlias = bool | None


class VisitorContext(msgspec.Struct, frozen=True, gc=False):
    """What a rule may look at: the visitor's identity and the visit (url, utm, device, ...)."""

    identity: Identity
    visit: Visit = EMPTY_VISIT
    now: int = 0  # epoch seconds: temporary personalizations draw once per period


Predicate: TypeAlias = Callable[[VisitorContext], Truth]

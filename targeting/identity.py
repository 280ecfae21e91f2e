"""Who the visitor is, as far as targeting can tell, and the context rules are evaluated in.

The edge resolves the Klaviyo exchange id to one of three identities:

- `identified`: the visitor's profile is known, with the ids of the segments it belongs to
  (only the segments live experiences target need to be present);
- `unidentified`: there is no profile (no `_kx`, malformed `_kx`, or Klaviyo has none);
- `pending`: the answer is not known yet (resolution still running, or Klaviyo failing).

Rules are three-valued (`Truth`): `True`, `False`, or `None` for "unknown", which is what a
segment condition gives while the identity is pending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeAlias

import msgspec


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

NO_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType({})

# True / False / None (unknown): Kleene's three-valued logic.
Truth: TypeAlias = bool | None


class VisitorContext(msgspec.Struct, frozen=True, gc=False):
    """What a rule may look at: the identity and request attributes (url, utm, device, ...)."""

    identity: Identity
    attributes: Mapping[str, str] = NO_ATTRIBUTES


Predicate: TypeAlias = Callable[[VisitorContext], Truth]

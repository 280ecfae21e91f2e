"""What the store keeps, as frozen values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SiteRecord:
    id: str
    name: str
    public_key: str
    api_key_hash: str = field(repr=False)
    signing_secret_enc: str = field(repr=False)
    allowed_origins: tuple[str, ...]
    config_version: int
    created_at: int
    updated_at: int
    # After a rotation: the replaced key's hash, which opens the site until `previous_key_valid_until`.
    previous_api_key_hash: str | None = field(default=None, repr=False)
    previous_key_valid_until: int | None = None

    def previous_key_valid(self, now: float) -> bool:
        """Whether the replaced key still opens the site at `now`."""
        return self.previous_key_valid_until is not None and now < self.previous_key_valid_until

    def to_public_dict(self) -> dict[str, Any]:
        """The site as the API shows it: never the api key (hashed) or the signing secret."""
        return {
            "id": self.id,
            "name": self.name,
            "public_key": self.public_key,
            "allowed_origins": list(self.allowed_origins),
            "config_version": self.config_version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "previous_key_valid_until": self.previous_key_valid_until,
        }


@dataclass(frozen=True, slots=True)
class ExperienceRecord:
    site_id: str
    id: str
    type: str
    status: str
    body: dict[str, Any]
    version: int
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class AdminSession:
    """A merchant page session: only the SHA-256 of its id is kept."""

    id_hash: str
    site_id: str
    csrf_token: str = field(repr=False)
    created_at: float
    last_seen_at: float

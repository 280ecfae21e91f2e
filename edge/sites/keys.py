"""Sites: identifiers, keys and their hashing.

- `id` (`site_...`): names the site in URLs.
- `public_key` (`pk_...`): in the storefront snippet; public by design.
- `api_key` (`sk_...`): opens the configuration API; shown once, stored as a SHA-256 hash. Keys
  are 256-bit random, so a fast hash is enough (no password stretching needed), and the lookup by
  hash cannot leak the key through timing. A rotation issues a new key and keeps the replaced
  key's hash as the previous key for the grace period (`key_rotation_grace_s`).
- signing secret: 32 random bytes per site that sign sticky tokens; stored encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from edge.store import SiteRecord
from oauth.crypto import TokenCipher

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
MAX_ORIGINS = 50
MAX_NAME = 200
_ORIGIN_HELP = "an origin like https://shop.example.com (scheme, host, optional port; no path)"


@dataclass(frozen=True, slots=True)
class NewSite:
    record: SiteRecord
    api_key: str


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def api_key_matches(presented: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(presented), stored_hash)


def new_api_key() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def new_site(name: str, allowed_origins: tuple[str, ...], cipher: TokenCipher, now: int) -> NewSite:
    api_key = new_api_key()
    record = SiteRecord(
        id="site_" + secrets.token_hex(8),
        name=name,
        public_key="pk_" + secrets.token_urlsafe(18),
        api_key_hash=hash_api_key(api_key),
        signing_secret_enc=cipher.encrypt(secrets.token_hex(32)),
        allowed_origins=allowed_origins,
        config_version=1,
        created_at=now,
        updated_at=now,
    )
    return NewSite(record=record, api_key=api_key)


def signing_secret(site: SiteRecord, cipher: TokenCipher) -> bytes:
    return bytes.fromhex(cipher.decrypt(site.signing_secret_enc))


def site_problems(name: object, origins: object) -> list[dict[str, str]]:
    """Validation of a site's name and allowed origins, every problem with its path."""
    problems: list[dict[str, str]] = []
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME):
        problems.append({"path": "name", "message": f"a non-empty name of at most {MAX_NAME} characters"})
    if origins is not None:
        if not isinstance(origins, list) or len(origins) > MAX_ORIGINS:
            message = f"a list of at most {MAX_ORIGINS} origins"
            problems.append({"path": "allowed_origins", "message": message})
        else:
            for index, origin in enumerate(origins):
                if not isinstance(origin, str) or not is_origin(origin):
                    problems.append({"path": f"allowed_origins[{index}]", "message": _ORIGIN_HELP})
    return problems


def is_origin(value: str) -> bool:
    if not _ORIGIN.match(value):
        return False
    parts = urlsplit(value)
    return bool(parts.hostname) and not parts.path

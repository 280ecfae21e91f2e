"""PKCE (RFC 7636) with the S256 method, the only one Klaviyo accepts."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def new_code_verifier() -> str:
    """A fresh verifier: 64 URL-safe characters (384 random bits)."""
    return secrets.token_urlsafe(48)


def is_valid_code_verifier(verifier: str) -> bool:
    """Whether `verifier` has the length and alphabet RFC 7636 requires."""
    return _VERIFIER.fullmatch(verifier) is not None


def s256_challenge(verifier: str) -> str:
    """base64url(sha256(verifier)) without padding."""
    if not is_valid_code_verifier(verifier):
        raise ValueError("a PKCE verifier is 43-128 characters of [A-Za-z0-9-._~]")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

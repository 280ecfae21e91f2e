"""Encryption at rest for OAuth tokens and other stored secrets.

Keys are derived from `KX_EDGE_SECRET_KEY` with HKDF, so the operator supplies one high-entropy
string and never a raw Fernet key. Rotation: the current secret encrypts, and the current plus
every old secret decrypt (MultiFernet), so a database written under an old key stays readable
while `rotate()` re-encrypts values under the new one.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from oauth.errors import DecryptionError

__all__ = ["DecryptionError", "TokenCipher", "derive_fernet_key"]

_HKDF_INFO = b"kx-edge token encryption v1"
_UNDECRYPTABLE = "stored secret cannot be decrypted with the configured keys"


def derive_fernet_key(secret: str, *, info: bytes = _HKDF_INFO) -> bytes:
    """Derive a Fernet key (urlsafe base64 of 32 bytes) from an operator secret."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


class TokenCipher:
    """Encrypts with the current secret and decrypts with the current or any old one."""

    def __init__(self, secret: str, old_secrets: Sequence[str] = ()) -> None:
        if not secret:
            raise ValueError("an encryption secret is required")
        keys = [Fernet(derive_fernet_key(s)) for s in (secret, *old_secrets) if s]
        self._fernet = MultiFernet(keys)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError) as exc:
            raise DecryptionError(_UNDECRYPTABLE) from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt a value under the current secret (it may be under an old one)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError) as exc:
            raise DecryptionError(_UNDECRYPTABLE) from exc

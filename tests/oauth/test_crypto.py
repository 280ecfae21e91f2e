"""TokenCipher: HKDF-derived Fernet keys, old-key decryption, rotation, and failure."""

from __future__ import annotations

import base64

import pytest

from oauth.crypto import DecryptionError, TokenCipher, derive_fernet_key
from oauth.errors import OAuthError

TOKEN = "access-SECRET-abcdef"


def test_round_trip_and_ciphertext_hides_the_plaintext() -> None:
    cipher = TokenCipher("current-key")
    ciphertext = cipher.encrypt(TOKEN)
    assert TOKEN not in ciphertext
    assert cipher.decrypt(ciphertext) == TOKEN
    # Fernet is randomised: the same token never encrypts to the same text twice.
    assert cipher.encrypt(TOKEN) != ciphertext


def test_old_secrets_still_decrypt_and_rotate_moves_to_the_current_one() -> None:
    old = TokenCipher("old-key")
    written_long_ago = old.encrypt(TOKEN)
    current = TokenCipher("new-key", old_secrets=["old-key"])
    assert current.decrypt(written_long_ago) == TOKEN
    rotated = current.rotate(written_long_ago)
    assert TokenCipher("new-key").decrypt(rotated) == TOKEN
    with pytest.raises(DecryptionError):
        old.decrypt(rotated)


def test_a_missing_key_is_a_decryption_error_in_the_oauth_tree() -> None:
    ciphertext = TokenCipher("some-key").encrypt(TOKEN)
    with pytest.raises(DecryptionError) as caught:
        TokenCipher("other-key").decrypt(ciphertext)
    assert isinstance(caught.value, OAuthError)
    assert caught.value.code == "decryption_failed"
    assert TOKEN not in str(caught.value)
    with pytest.raises(DecryptionError):
        TokenCipher("other-key").rotate(ciphertext)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "gAAAAA" + "x" * 80, "ünïcode"])
def test_garbage_is_a_decryption_error(garbage: str) -> None:
    with pytest.raises(DecryptionError):
        TokenCipher("key").decrypt(garbage)


def test_keys_are_derived_not_used_raw() -> None:
    key = derive_fernet_key("key")
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != derive_fernet_key("key2")
    assert key != derive_fernet_key("key", info=b"another purpose")
    assert "SECRET" not in repr(TokenCipher("key-SECRET-123"))


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenCipher("")

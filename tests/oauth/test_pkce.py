"""PKCE S256 against RFC 7636's appendix B vector, and the verifier's shape."""

from __future__ import annotations

import re

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from oauth.pkce import is_valid_code_verifier, new_code_verifier, s256_challenge

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s256_matches_the_rfc_7636_vector() -> None:
    assert s256_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE


def test_authlib_computes_the_same_challenge() -> None:
    verifier = new_code_verifier()
    assert create_s256_code_challenge(verifier) == s256_challenge(verifier)


def test_new_verifiers_are_64_url_safe_characters_and_unique() -> None:
    verifiers = {new_code_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    for verifier in verifiers:
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{64}", verifier)
        assert is_valid_code_verifier(verifier)
        assert "=" not in s256_challenge(verifier)


@pytest.mark.parametrize(
    ("verifier", "valid"),
    [
        ("a" * 42, False),
        ("a" * 43, True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("a" * 42 + "~", True),
        ("a" * 42 + "+", False),
        ("a" * 42 + "=", False),
    ],
)
def test_verifier_shape(verifier: str, valid: bool) -> None:
    assert is_valid_code_verifier(verifier) is valid
    if not valid:
        with pytest.raises(ValueError):
            s256_challenge(verifier)

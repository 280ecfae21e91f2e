from __future__ import annotations

import pytest

SECRET = b"k" * 32


@pytest.fixture
def secret() -> bytes:
    return SECRET

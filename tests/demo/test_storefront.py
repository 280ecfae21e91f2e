"""The demo storefront page: the debug box's words for every code kx-edge can answer."""

from __future__ import annotations

import json
import re

from demo.storefront import IDENTITY_WORDS, REASON_WORDS, storefront_page
from targeting import IdentityKind
from targeting.decision import Reason


def test_every_reason_code_has_words_a_merchant_understands() -> None:
    assert {str(reason) for reason in Reason} <= set(REASON_WORDS)
    assert {str(kind) for kind in IdentityKind} <= set(IDENTITY_WORDS)
    assert all(words and "_" not in words for words in REASON_WORDS.values())


def test_the_page_embeds_the_words_as_data() -> None:
    page = storefront_page("pk_demo")
    found = re.search(r'<script type="application/json" id="kx-words">(.*?)</script>', page, re.S)
    assert found is not None
    assert json.loads(found.group(1)) == {"reasons": REASON_WORDS, "identity": IDENTITY_WORDS}

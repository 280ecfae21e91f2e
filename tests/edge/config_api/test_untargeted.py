"""An untargeted A/B test: a document without `targeting` is everyone, through the whole API."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.edge.config_api.support import Shop
from tests.targeting.factories import doc


async def test_an_experience_without_targeting_is_for_everyone(shop: Shop) -> None:
    body = {k: v for k, v in doc("button-colour").items() if k != "targeting"}
    created = await shop.create(body)
    assert created.status_code == 201, created.text
    assert created.json()["targeting"] == {"mode": "custom", "rules": {"all": []}}
    answer = await shop.assign({"visitor_id": "visitor-untargeted-0001"})
    assert answer.status_code == 200, answer.text
    (decision,) = answer.json()["experiences"]
    assert decision["id"] == "button-colour"
    assert decision["entered"] is True and decision["reason"] == "everyone"


async def test_every_example_in_the_experiences_doc_is_accepted(shop: Shop) -> None:
    text = (Path(__file__).parents[3] / "docs" / "experiences.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(blocks) == 4
    for block in blocks:
        body = json.loads(re.sub(r"<(\w+) segment id>", lambda m: f"seg_{m.group(1)}", block))
        created = await shop.create(body)  # drafts: segments are checked when one goes live
        assert created.status_code == 201, (block, created.text)

"""Personalization modes: permanent, temporary (a fresh holdout draw every N days) and link."""

from __future__ import annotations

from typing import Any

import pytest

from targeting import UNIDENTIFIED, ValidationError, Visit, compile_site, decide, parse_experience
from targeting.model import PersonalizationMode
from tests.targeting.factories import doc

DAY = 86_400


def personalization(**extra: Any) -> dict[str, Any]:
    return doc("offer", type="personalization", variation_ids=("off", "on"), **extra)


def entered(site: Any, visitor: str, *, now: int = 0, visit: Visit | None = None) -> bool:
    decision = decide(site, visitor, UNIDENTIFIED, {}, visit=visit or Visit(), now=now).decisions[0]
    return decision.entered


def test_the_modes_round_trip() -> None:
    temporary = parse_experience(personalization(mode="temporary", evaluate_every_days=7))
    assert (temporary.mode, temporary.evaluate_every_days) == (PersonalizationMode.TEMPORARY, 7)
    assert parse_experience(temporary.to_dict()) == temporary
    link = parse_experience(personalization(mode="link", link_param="kx_offer", link_value="spring"))
    assert parse_experience(link.to_dict()) == link
    assert "mode" not in parse_experience(personalization()).to_dict()


@pytest.mark.parametrize(
    ("extra", "path", "words"),
    [
        ({"mode": "sometimes"}, "mode", "must be one of permanent, temporary, link"),
        ({"mode": "temporary"}, "evaluate_every_days", "1 to 365"),
        ({"mode": "temporary", "evaluate_every_days": 0}, "evaluate_every_days", "1 to 365"),
        ({"mode": "temporary", "evaluate_every_days": 1.5}, "evaluate_every_days", "whole number"),
        ({"evaluate_every_days": 3}, "evaluate_every_days", "only allowed with mode temporary"),
        ({"mode": "link", "link_value": "spring"}, "link_param", "must be a string"),
        ({"mode": "link", "link_param": "a b", "link_value": "x"}, "link_param", "1-64 characters"),
        ({"mode": "link", "link_param": "kx_offer"}, "link_value", "non-empty"),
        ({"link_param": "kx_offer", "link_value": "x"}, "link_param", "only allowed with mode link"),
    ],
)
def test_bad_mode_fields_name_their_path(extra: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_experience(personalization(**extra))
    assert any(p.path == path and words in p.message for p in raised.value.problems), raised.value.problems


def test_tests_have_no_mode() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_experience(doc("t", mode="temporary", evaluate_every_days=3))
    assert any(p.path == "mode" and "only personalizations" in p.message for p in raised.value.problems)


def test_permanent_draws_once_and_temporary_draws_again_each_period() -> None:
    permanent = compile_site([parse_experience(personalization(traffic_percent=50))])
    temporary = compile_site(
        [parse_experience(personalization(traffic_percent=50, mode="temporary", evaluate_every_days=7))]
    )
    visitors = [f"v{i}" for i in range(2000)]
    for site in (permanent, temporary):  # within one period nothing moves
        assert [entered(site, v, now=0) for v in visitors] == [
            entered(site, v, now=7 * DAY - 1) for v in visitors
        ]
    assert [entered(permanent, v) for v in visitors] == [
        entered(permanent, v, now=70 * DAY) for v in visitors
    ]
    first = [entered(temporary, v, now=0) for v in visitors]
    second = [entered(temporary, v, now=7 * DAY) for v in visitors]
    moved = sum(a != b for a, b in zip(first, second, strict=True))
    assert 700 < moved < 1300  # a fresh 50% draw moves about half the visitors
    assert 900 < sum(second) < 1100  # and still holds out half


def test_a_temporary_site_signs_the_period_into_the_memo_key() -> None:
    site = compile_site([parse_experience(personalization(mode="temporary", evaluate_every_days=2))])
    assert site.visit_signature(Visit(), 0) == site.visit_signature(Visit(), 2 * DAY - 1)
    assert site.visit_signature(Visit(), 0) != site.visit_signature(Visit(), 2 * DAY)


def test_a_link_personalization_enters_by_its_parameter_and_keeps_the_visitor() -> None:
    offer = personalization(mode="link", link_param="kx_offer", link_value="spring")
    site = compile_site([parse_experience(offer)])
    assert site.visit_needs.links == frozenset({"kx_offer"}) and "kx_offer" in site.visit_needs.query_params
    arrived = Visit.from_request_fields(url="https://shop.example.com/?kx_offer=spring")
    later = Visit.from_request_fields(url="https://shop.example.com/cart", links={"kx_offer": "spring"})
    assert entered(site, "v1", visit=arrived) and entered(site, "v1", visit=later)
    assert not entered(site, "v1")
    assert not entered(
        site, "v1", visit=Visit.from_request_fields(url="https://shop.example.com/?kx_offer=fall")
    )
    assert not entered(site, "v1", visit=Visit.from_request_fields(links={"kx_offer": "fall"}))
    assert site.visit_signature(arrived) != site.visit_signature(Visit())


def test_a_link_personalization_still_needs_its_rules() -> None:
    rules = {"all": [{"attribute": "device", "operator": "equals", "value": "mobile"}]}
    offer = personalization(mode="link", link_param="kx_offer", link_value="spring", rules=rules)
    site = compile_site([parse_experience(offer)])
    desktop = Visit.from_request_fields(links={"kx_offer": "spring"}, device="desktop")
    mobile = Visit.from_request_fields(links={"kx_offer": "spring"}, device="mobile")
    assert not entered(site, "v1", visit=desktop) and entered(site, "v1", visit=mobile)

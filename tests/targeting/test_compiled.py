"""compile_site(): live experiences in order, every status known, the segments the resolver needs."""

from __future__ import annotations

import pytest

from targeting import CompileError, ExperienceStatus, VisitNeeds, compile_site, parse_experience
from tests.targeting.conditions import cond
from tests.targeting.factories import doc, seg, site


def test_only_live_experiences_are_compiled_in_the_given_order() -> None:
    compiled = site(doc("z"), doc("p", status="paused"), doc("a"), doc("e", status="ended"))
    assert [cx.id for cx in compiled.experiences] == ["z", "a"]


def test_every_experience_status_is_known() -> None:
    compiled = site(doc("z"), doc("p", status="paused"), doc("d", status="draft"), doc("e", status="ended"))
    assert dict(compiled.statuses) == {
        "z": ExperienceStatus.LIVE,
        "p": ExperienceStatus.PAUSED,
        "d": ExperienceStatus.DRAFT,
        "e": ExperienceStatus.ENDED,
    }


def test_targeted_segments_are_those_of_live_experiences() -> None:
    compiled = site(
        doc("a", rules={"any": [seg("vip"), seg("eu")]}),
        doc("b", audiences=[{"rules": seg("staff"), "action": "exclude"}]),
        doc("c", rules=seg("paused-only"), status="paused"),
    )
    assert compiled.targeted_segments == {"vip", "eu", "staff"}


def test_needs_identity_only_when_a_live_experience_has_segment_conditions() -> None:
    assert site(doc("a"), doc("b", rules=seg("vip"), status="paused")).needs_identity is False
    assert site(doc("a"), doc("b", rules=seg("vip"))).needs_identity is True


def test_an_empty_site_decides_nothing() -> None:
    compiled = compile_site([])
    assert compiled.experiences == () and compiled.targeted_segments == frozenset()


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(CompileError) as caught:
        compile_site([parse_experience(doc("a")), parse_experience(doc("a", status="paused"))])
    assert caught.value.code == "invalid_site"


def test_the_compiled_site_is_immutable() -> None:
    compiled = site(doc("a"))
    with pytest.raises(AttributeError):
        compiled.needs_identity = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        compiled.statuses["b"] = ExperienceStatus.LIVE  # type: ignore[index]


def test_visit_only_experiences_never_need_the_identity() -> None:
    visit_only = doc(
        "a", rules={"all": [cond("device", "equals", "mobile"), cond("url", "contains", "sale")]}
    )
    assert site(visit_only).needs_identity is False
    assert site(
        visit_only, doc("b", rules={"any": [cond("country", "equals", "US"), seg("vip")]})
    ).needs_identity


def test_visit_needs_lists_what_live_experiences_read() -> None:
    compiled = site(
        doc("a", rules={"all": [seg("vip"), cond("utm_campaign", "equals", "summer")]}),
        doc("b", audiences=[{"rules": cond("cookie:consent", "exists"), "action": "exclude"}]),
        doc("c", rules={"any": [cond("query_param:ref", "exists"), cond("visitor", "equals", "new")]}),
        doc("d", rules=cond("device", "equals", "mobile"), status="paused"),
    )
    needs = compiled.visit_needs
    assert (needs.url, needs.utm, needs.visitor) == (True, True, True)
    assert (needs.landing_url, needs.referrer, needs.device, needs.country) == (False, False, False, False)
    assert needs.query_params == {"ref"} and needs.cookies == {"consent"}
    assert needs.any and needs.to_dict() == {
        "url": True,
        "landing_url": False,
        "referrer": False,
        "utm": True,
        "device": False,
        "visitor": True,
        "country": False,
        "query_params": ["ref"],
        "cookies": ["consent"],
        "links": [],
    }


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        (cond("url", "equals", "/"), "url"),
        (cond("landing_url", "starts_with", "/sale"), "landing_url"),
        (cond("device", "equals", "desktop"), "device"),
        (cond("country", "not_equals", "US"), "country"),
        (cond("visitor", "equals", "returning"), "visitor"),
    ],
)
def test_each_visit_attribute_asks_for_its_field(condition: dict[str, str], field: str) -> None:
    needs = site(doc("a", rules=condition)).visit_needs.to_dict()
    assert [key for key, value in needs.items() if value is True] == [field]


def test_traffic_source_needs_the_session_fields() -> None:
    needs = site(doc("a", rules=cond("traffic_source", "equals", "email"))).visit_needs
    assert (needs.url, needs.landing_url, needs.referrer, needs.utm) == (True, True, True, True)
    assert not (needs.device or needs.country or needs.visitor)


def test_segment_only_sites_need_nothing_of_the_visit() -> None:
    assert site(doc("a", rules=seg("vip")), doc("b")).visit_needs.any is False
    assert compile_site([]).visit_needs == VisitNeeds()

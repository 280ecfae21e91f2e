"""compile_site(): live experiences in order, every status known, the segments the resolver needs."""

from __future__ import annotations

import pytest

from targeting import CompileError, ExperienceStatus, compile_site, parse_experience
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

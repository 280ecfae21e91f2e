"""Planning a visit's events: the unique_id (golden vectors), which decisions fire, and why not."""

from __future__ import annotations

import hashlib

import pytest

from edge.events.plan import SkipReason, Visit, current_experiences, plan_visit, unique_id
from edge.events.triggers import Switches, Trigger
from edge.sites.runtime import SiteRuntime
from edge.store import SiteRecord
from edge.storefront.memo import MemoTables, StorefrontMemo
from oauth.connection import Connection, ConnectionStatus
from targeting import Decision, DecisionStatus, ExperienceType, Reason, SiteDecision, compile_site
from tests.edge.events.conftest import WITH_EVENTS, WITHOUT_EVENTS

V = "v" * 22
KX = "ABCDEFGHIJKLMNOP==.UHFmv9"
DAY_20000 = 20_000 * 86_400.0 + 3600


@pytest.mark.parametrize(
    ("site", "visitor", "experience", "trigger", "day", "expected"),
    [
        (
            "site_1",
            V,
            "free-shipping",
            Trigger.SAW_PERSONALIZATION,
            20000,
            "61f1c881e0ec05e18810099d7638da06",
        ),
        (
            "site_1",
            V,
            "free-shipping",
            Trigger.SAW_PERSONALIZATION,
            20001,
            "bd484c0765d1c75afb3afa82bfa5b3c5",
        ),
        ("site_1", V, "checkout", Trigger.ENTERED_TEST, 20000, "e0012abbcafb8fd642f8fcbc4dbd619c"),
        ("site_2", V, "checkout", Trigger.ENTERED_TEST, 20000, "01145446f1f1a456c2f6e4b551701ff6"),
        ("site_1", "w" * 22, "checkout", Trigger.ENTERED_TEST, 20000, "c78af91e7a93f8c77eeddf1b90be54f8"),
    ],
)
def test_unique_id_golden_vectors(
    site: str, visitor: str, experience: str, trigger: Trigger, day: int, expected: str
) -> None:
    assert unique_id(site, visitor, experience, trigger, day) == expected
    text = "\x1f".join((site, visitor, experience, trigger.value, str(day)))  # how to recompute it
    assert hashlib.blake2b(text.encode(), digest_size=16).hexdigest() == expected


def decision(
    experience_id: str,
    kind: ExperienceType = ExperienceType.TEST,
    *,
    entered: bool = True,
    first: bool = True,
    variation: str | None = "b",
) -> Decision:
    return Decision(
        experience_id, kind, DecisionStatus.DECIDED, entered, variation, variation in (None, "control"),
        Reason.EVERYONE, first,
    )  # fmt: skip


def runtime(
    scopes: tuple[str, ...] | None = WITH_EVENTS, status: ConnectionStatus = ConnectionStatus.ACTIVE
) -> SiteRuntime:
    site = SiteRecord("site_1", "Shop", "pk", "h", "s", (), 1, 0, 0)
    conn = (
        None if scopes is None else Connection(site_id="site_1", status=status, account_id="A", scopes=scopes)
    )
    compiled = compile_site([])
    return SiteRuntime(
        site=site, compiled=compiled, experiences={}, secret=b"", origins=frozenset(), connection=conn,
        memo=StorefrontMemo(compiled, b"", "site_1", MemoTables()),
    )  # fmt: skip


def visit(*decisions: Decision, kx: str | None = KX, rt: SiteRuntime | None = None) -> Visit:
    return Visit(rt or runtime(), V, kx, SiteDecision(decisions, {}), None, DAY_20000)


ALL = Switches(entered_test=True, saw_personalization=True, profile_sync=True)
P = ExperienceType.PERSONALIZATION


def test_a_first_entry_and_a_shown_personalization_fire() -> None:
    plan = plan_visit(visit(decision("t"), decision("p", P, variation="banner")), ALL)
    assert [(c.trigger, c.decision.experience_id) for c in plan.candidates] == [
        (Trigger.ENTERED_TEST, "t"),
        (Trigger.SAW_PERSONALIZATION, "p"),
    ]
    assert plan.experiences == ("p:banner", "t:b")
    assert plan.skips == []


def test_the_control_group_enters_a_test_too() -> None:
    plan = plan_visit(visit(decision("t", variation="control")), ALL)
    assert [c.decision.is_control for c in plan.candidates] == [True]


@pytest.mark.parametrize(
    ("made", "reason"),
    [
        (decision("t", first=False), SkipReason.NOT_FIRST_ENTRY),
        (decision("t", entered=False, variation="control"), SkipReason.NOT_ENTERED),
        (decision("t", entered=False, variation=None), SkipReason.NOT_ENTERED),  # deferred
        (decision("p", P, entered=False, variation="control"), SkipReason.NOT_ENTERED),
    ],
)
def test_decisions_that_do_not_fire_say_why_when_explaining(made: Decision, reason: SkipReason) -> None:
    assert plan_visit(visit(made), ALL).skips == []  # not counted
    [skip] = plan_visit(visit(made), ALL, explain=True).skips
    assert (skip.experience_id, skip.reason) == (made.experience_id, reason)


def test_a_trigger_that_is_off_fires_nothing() -> None:
    only_tests = Switches(entered_test=True)
    plan = plan_visit(visit(decision("t"), decision("p", P)), only_tests, explain=True)
    assert [c.trigger for c in plan.candidates] == [Trigger.ENTERED_TEST]
    assert {(s.trigger, s.reason) for s in plan.skips} == {
        (Trigger.SAW_PERSONALIZATION, SkipReason.TRIGGER_OFF),
        (Trigger.PROFILE_SYNC, SkipReason.TRIGGER_OFF),
    }
    assert plan.experiences is None


@pytest.mark.parametrize(
    ("kx", "rt", "reason"),
    [
        (None, runtime(), SkipReason.NO_KX),
        (KX, runtime(WITHOUT_EVENTS), SkipReason.SCOPE_MISSING),
        (KX, runtime(None), SkipReason.NOT_CONNECTED),
        (KX, runtime(status=ConnectionStatus.NEEDS_REAUTH), SkipReason.NOT_CONNECTED),
    ],
)
def test_a_visit_that_cannot_be_sent_is_skipped_with_its_reason(
    kx: str | None, rt: SiteRuntime, reason: SkipReason
) -> None:
    plan = plan_visit(visit(decision("t"), decision("p", P), kx=kx, rt=rt), ALL)
    assert plan.candidates == [] and plan.experiences is None
    assert [(s.trigger, s.reason) for s in plan.skips] == [
        (Trigger.ENTERED_TEST, reason),
        (Trigger.SAW_PERSONALIZATION, reason),
        (Trigger.PROFILE_SYNC, reason),
    ]


def test_current_experiences_are_the_entered_ones_sorted() -> None:
    decisions = SiteDecision(
        (
            decision("z"),
            decision("a", variation="control"),
            decision("m", entered=False),
            decision("d", variation=None),
        ),
        {},
    )
    assert current_experiences(decisions) == ("a:control", "z:b")

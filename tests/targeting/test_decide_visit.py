"""decide() with visit conditions: mixed with segments, never waiting on the identity, explained."""

from __future__ import annotations

import random

from targeting import (
    PENDING,
    UNIDENTIFIED,
    DecisionStatus,
    Identity,
    Reason,
    TruthValue,
    Visit,
    decide,
    explain,
)
from tests.targeting.conditions import cond
from tests.targeting.factories import doc, seg, site

VIP = Identity.identified({"vip"})
SUMMER = Visit.from_request_fields(
    url="https://shop.example/collections/sale?utm_campaign=Summer-Sale",
    device="mobile",
    visitor="new",
    referrer="",
)
WINTER = Visit.from_request_fields(url="https://shop.example/?utm_campaign=winter", device="desktop")
VIP_SUMMER = doc("vip-summer", rules={"all": [seg("vip"), cond("utm_campaign", "equals", "summer-sale")]})


def test_segment_and_visit_conditions_combine() -> None:
    compiled = site(VIP_SUMMER)
    assert decide(compiled, "v", VIP, {}, visit=SUMMER).decisions[0].entered
    assert not decide(compiled, "v", VIP, {}, visit=WINTER).decisions[0].entered
    assert not decide(compiled, "v", UNIDENTIFIED, {}, visit=SUMMER).decisions[0].entered


def test_a_pending_identity_never_holds_up_a_visit_only_experience() -> None:
    personalization = doc("mobile-banner", type="personalization", rules=cond("device", "equals", "mobile"))
    test = doc("new-visitors", rules=cond("visitor", "equals", "new"))
    compiled = site(personalization, test)
    banner, first_visit = decide(compiled, "v", PENDING, {}, visit=SUMMER).decisions
    assert (banner.status, banner.entered) == (DecisionStatus.DECIDED, True)
    assert first_visit.reason is Reason.RULES_MATCHED
    banner, first_visit = decide(compiled, "v", PENDING, {}, visit=WINTER).decisions
    assert (banner.status, banner.reason) == (DecisionStatus.DECIDED, Reason.RULES_NOT_MATCHED)
    assert first_visit.reason is Reason.RULES_NOT_MATCHED


def test_a_false_visit_condition_decides_even_while_the_segment_is_pending() -> None:
    result = decide(site(VIP_SUMMER), "v", PENDING, {}, visit=WINTER).decisions[0]
    assert result.reason is Reason.RULES_NOT_MATCHED  # false AND unknown is false
    waiting = decide(site(VIP_SUMMER), "v", PENDING, {}, visit=SUMMER).decisions[0]
    assert waiting.reason is Reason.PENDING  # true AND unknown is unknown


def test_without_a_visit_no_visit_condition_matches() -> None:
    compiled = site(doc("a", rules=cond("traffic_source", "not_equals", "paid_social")))
    decision = decide(compiled, "v", VIP, {}).decisions[0]
    assert (decision.entered, decision.reason) == (False, Reason.RULES_NOT_MATCHED)


def test_the_trace_reports_each_visit_condition() -> None:
    rules = {
        "any": [
            cond("cookie:consent", "exists"),
            {"all": [seg("vip"), cond("url", "matches", "/collections/*")]},
        ]
    }
    trace = explain(site(doc("a", rules=rules)), "v", VIP, {}, visit=SUMMER)[0]
    assert trace.rules is not None and trace.rules.result is TruthValue.TRUE
    assert [(c.path, c.attribute, c.operator, c.value, c.result) for c in trace.rules.conditions] == [
        ("targeting.rules.any[0]", "cookie:consent", "exists", "", TruthValue.FALSE),
        ("targeting.rules.any[1].all[0]", "klaviyo_segment", "equals", "vip", TruthValue.TRUE),
        ("targeting.rules.any[1].all[1]", "url", "matches", "/collections/*", TruthValue.TRUE),
    ]


def test_explain_decides_what_decide_decides_with_a_visit() -> None:
    compiled = site(
        VIP_SUMMER,
        doc("p", type="personalization", rules=cond("traffic_source", "equals", "direct")),
        doc(
            "adv",
            audiences=[
                {"rules": cond("device", "equals", "desktop"), "action": "exclude"},
                {"action": "random"},
            ],
        ),
    )
    for visit in (SUMMER, WINTER, Visit()):
        for identity in (VIP, PENDING, UNIDENTIFIED):
            for visitor in ("a", "b", "c"):
                traces = explain(compiled, visitor, identity, {}, visit=visit)
                assert (
                    tuple(t.decision for t in traces)
                    == decide(compiled, visitor, identity, {}, visit=visit).decisions
                )


def test_visits_with_the_same_key_decide_alike() -> None:
    compiled = site(
        VIP_SUMMER,
        doc(
            "p",
            type="personalization",
            rules={"all": [cond("device", "equals", "mobile"), cond("query_param:ref", "exists")]},
        ),
        doc(
            "t",
            rules={
                "any": [
                    cond("traffic_source", "equals", "organic_search"),
                    cond("cookie:beta", "equals", "1"),
                ]
            },
        ),
    )
    needs = compiled.visit_needs
    rng = random.Random(3)
    by_key: dict[tuple[object, ...], object] = {}
    for _ in range(600):
        visit = Visit.from_request_fields(
            url="https://shop.example/"
            + rng.choice(["", "a", "b"])
            + rng.choice(["", "?ref=x", "?utm_campaign=summer-sale"]),
            referrer=rng.choice(["", "https://www.google.com/", "https://blog.example/"]),
            cookies=rng.choice([{}, {"beta": "1"}, {"beta": "0", "other": "x"}]),
            device=rng.choice(["mobile", "desktop"]),
            visitor=rng.choice(["new", "returning"]),  # read by no condition of this site
            country=rng.choice(["US", "FR"]),  # nor this
        )
        decisions = decide(compiled, "visitor-1", VIP, {}, visit=visit).decisions
        assert by_key.setdefault(visit.key(needs), decisions) == decisions
    assert 1 < len(by_key) < 600
    one = Visit.from_request_fields(url="https://shop.example/a", visitor="new", country="US")
    other = Visit.from_request_fields(url="https://shop.example/a", visitor="returning", country="FR")
    assert one.key(needs) == other.key(needs) and hash(one.key(needs)) == hash(other.key(needs))

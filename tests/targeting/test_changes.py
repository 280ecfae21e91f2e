"""A variation's `changes`: the model, its canonical JSON, and every problem named by its path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from targeting import ExperienceType, ValidationError, compile_site, decide, parse_experience
from targeting.change_content import clean_html, css_rule_selectors
from targeting.changes import DomAction, DomChange, VariationChanges, page_matches
from targeting.identity import UNIDENTIFIED


def _experience(changes: Any, *, control_changes: Any = None) -> dict[str, Any]:
    control: dict[str, Any] = {"id": "control", "name": "Control", "weight": 1, "is_control": True}
    if control_changes is not None:
        control["changes"] = control_changes
    return {
        "id": "hero",
        "type": "test",
        "name": "Hero",
        "status": "live",
        "targeting": {"mode": "custom"},
        "variations": [control, {"id": "b", "name": "B", "weight": 1, "changes": changes}],
    }


def _problems(changes: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_experience(_experience(changes))
    return {p.path: p.message for p in caught.value.problems}


FULL = {
    "css": ".hero h1 { color: #14532d }",
    "dom": [
        {"selector": ".hero h1", "action": "set_text", "value": "Gear that goes further"},
        {"selector": "#price", "action": "set_html", "value": "<strong>$159</strong>"},
        {"selector": "a.cta", "action": "set_attribute", "attribute": "href", "value": "/collections/sale"},
        {"selector": "body", "action": "add_class", "value": "kx-sale theme-dark"},
        {"selector": ".promo", "action": "remove_class", "value": "hidden"},
        {"selector": ".old-banner", "action": "hide"},
        {"selector": "main", "action": "insert_before", "value": '<p class="note">Hello</p>'},
        {"selector": "main", "action": "insert_after", "value": "<p>Bye</p>"},
    ],
    "pages": ["/", "/products/*"],
    "payload": {"discount": 10, "labels": ["a", "b"], "on": True},
}


def test_every_field_round_trips_through_the_canonical_json() -> None:
    experience = parse_experience(_experience(copy.deepcopy(FULL)))
    changes = experience.variations[1].changes
    assert changes is not None
    assert changes.dom[2] == DomChange("a.cta", DomAction.SET_ATTRIBUTE, "/collections/sale", "href")
    assert changes.payload == {"discount": 10, "labels": ["a", "b"], "on": True}
    assert experience.to_dict()["variations"][1]["changes"] == FULL
    assert parse_experience(experience.to_dict()) == experience
    assert "changes" not in experience.to_dict()["variations"][0]  # the control has none


@pytest.mark.parametrize("empty", [None, {}, {"dom": [], "css": None}])
def test_no_changes_is_the_same_as_none(empty: Any) -> None:
    experience = parse_experience(_experience(empty))
    assert experience.variations[1].changes is None
    assert "changes" not in experience.to_dict()["variations"][1]


@pytest.mark.parametrize(
    "payload", [0, "text", [1, 2], {"nested": {"deep": [True, None]}}, 1.5, False], ids=repr
)
def test_any_json_value_is_a_payload(payload: Any) -> None:
    changes = parse_experience(_experience({"payload": payload})).variations[1].changes
    assert changes is not None and changes.payload == payload


def test_a_null_payload_is_no_payload() -> None:
    assert parse_experience(_experience({"payload": None})).variations[1].changes is None


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ([], "variations[1].changes", "must be an object"),
        ({"js": "alert(1)"}, "variations[1].changes.js", "unknown field"),
        ({"dom": {"selector": "a"}}, "variations[1].changes.dom", "must be a list"),
        (
            {"dom": [{"selector": "a[", "action": "hide"}]},
            "variations[1].changes.dom[0].selector",
            "not a valid CSS selector",
        ),
        (
            {"dom": [{"selector": "p::before", "action": "hide"}]},
            "variations[1].changes.dom[0].selector",
            "pseudo-elements",
        ),
        (
            {"dom": [{"selector": "p:contains(x)", "action": "hide"}]},
            "variations[1].changes.dom[0].selector",
            ":contains",
        ),
        (
            {"dom": [{"selector": " ", "action": "hide"}]},
            "variations[1].changes.dom[0].selector",
            "must be a CSS selector",
        ),
        (
            {"dom": [{"selector": "a", "action": "eval"}]},
            "variations[1].changes.dom[0].action",
            "must be one of set_text",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_text"}]},
            "variations[1].changes.dom[0].value",
            "required for set_text",
        ),
        (
            {"dom": [{"selector": "a", "action": "hide", "value": "x"}]},
            "variations[1].changes.dom[0].value",
            "hide takes no value",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_attribute", "value": "x"}]},
            "variations[1].changes.dom[0].attribute",
            "required for set_attribute",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_text", "value": "x", "attribute": "y"}]},
            "variations[1].changes.dom[0].attribute",
            "only allowed with set_attribute",
        ),
        (
            {"dom": [{"selector": "a", "action": "hide", "when": 1}]},
            "variations[1].changes.dom[0].when",
            "unknown field",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_attribute", "attribute": "onclick", "value": "x()"}]},
            "variations[1].changes.dom[0].value",
            "event handler",
        ),
        (
            {
                "dom": [
                    {
                        "selector": "a",
                        "action": "set_attribute",
                        "attribute": "href",
                        "value": "javascript:alert(1)",
                    }
                ]
            },
            "variations[1].changes.dom[0].value",
            "javascript: URLs are not allowed",
        ),
        (
            {
                "dom": [
                    {
                        "selector": "a",
                        "action": "set_attribute",
                        "attribute": "href",
                        "value": "JaVa\tScRipt:alert(1)",
                    }
                ]
            },
            "variations[1].changes.dom[0].value",
            "javascript: URLs",
        ),
        (
            {
                "dom": [
                    {"selector": "iframe", "action": "set_attribute", "attribute": "srcdoc", "value": "<b>"}
                ]
            },
            "variations[1].changes.dom[0].value",
            "srcdoc",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_attribute", "attribute": "a b", "value": "x"}]},
            "variations[1].changes.dom[0].value",
            "attribute name",
        ),
        (
            {
                "dom": [
                    {
                        "selector": "a",
                        "action": "set_attribute",
                        "attribute": "style",
                        "value": "width: expression(1)",
                    }
                ]
            },
            "variations[1].changes.dom[0].value",
            "expression()",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_html", "value": "<img src=x onerror=alert(1)>"}]},
            "variations[1].changes.dom[0].value",
            "onerror is an event handler",
        ),
        (
            {"dom": [{"selector": "a", "action": "insert_after", "value": "<script>alert(1)</script>"}]},
            "variations[1].changes.dom[0].value",
            "<script> is not allowed",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_html", "value": "<a href='javascript:x'>x</a>"}]},
            "variations[1].changes.dom[0].value",
            "javascript: URLs",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_html", "value": "<svg onload=x>"}]},
            "variations[1].changes.dom[0].value",
            "<svg> is not allowed",
        ),
        (
            {"dom": [{"selector": "a", "action": "add_class", "value": ""}]},
            "variations[1].changes.dom[0].value",
            "class names",
        ),
        (
            {"dom": [{"selector": "a", "action": "set_text", "value": "x" * 5001}]},
            "variations[1].changes.dom[0].value",
            "at most 5000 characters",
        ),
        (
            {"dom": [{"selector": "a", "action": "hide"}] * 51},
            "variations[1].changes.dom",
            "at most 50 changes",
        ),
        (
            {"css": "@import url(https://evil.example/x.css);"},
            "variations[1].changes.css",
            "@import is not allowed",
        ),
        (
            {"css": ".a { background: url('javascript:alert(1)') }"},
            "variations[1].changes.css",
            "javascript: URLs",
        ),
        ({"css": ".a { background: url(javascript:void) }"}, "variations[1].changes.css", "javascript: URLs"),
        ({"css": ".a { background: url(javascript:alert(1)) }"}, "variations[1].changes.css", "bad URL"),
        ({"css": ".a { -moz-binding: url(x.xml) }"}, "variations[1].changes.css", "-moz-binding"),
        ({"css": ".a {{ }"}, "variations[1].changes.css", "not valid CSS"),
        ({"css": 5}, "variations[1].changes.css", "must be a stylesheet"),
        ({"redirect": "/b"}, "variations[1].changes.redirect", "needs pages"),
        (
            {"redirect": "javascript:alert(1)", "pages": ["/a"]},
            "variations[1].changes.redirect",
            "absolute http(s) URL",
        ),
        (
            {"redirect": "//evil.example/x", "pages": ["/a"]},
            "variations[1].changes.redirect",
            "absolute http(s) URL",
        ),
        (
            {"redirect": "https://user@shop.example/", "pages": ["/a"]},
            "variations[1].changes.redirect",
            "absolute http(s) URL",
        ),
        ({"redirect": "/sale/b", "pages": ["/sale/*"]}, "variations[1].changes.redirect", "loop"),
        ({"pages": []}, "variations[1].changes.pages", "1 to 20 path patterns"),
        ({"pages": ["products"]}, "variations[1].changes.pages[0]", "starting with /"),
        ({"pages": ["/a?b=1"]}, "variations[1].changes.pages[0]", "no query"),
        ({"payload": "x" * 20_000}, "variations[1].changes.payload", "at most 16384 bytes"),
    ],
)
def test_a_bad_change_is_a_problem_at_its_path(changes: Any, path: str, message: str) -> None:
    problems = _problems(changes)
    assert path in problems, problems
    assert message in problems[path]


def test_every_bad_change_is_reported_at_once() -> None:
    problems = _problems(
        {
            "dom": [
                {"selector": "a[", "action": "hide"},
                {"selector": "ok", "action": "set_text", "value": "fine"},
                {"selector": "b", "action": "nope"},
            ],
            "css": "@import 'x.css';",
        }
    )
    assert set(problems) == {
        "variations[1].changes.dom[0].selector",
        "variations[1].changes.dom[2].action",
        "variations[1].changes.css",
    }


def test_html_is_stored_cleaned_and_cleaning_is_stable() -> None:
    markup = '<p class="x" data-y=1>Hi <a href="/a" target="_blank">a</a><marquee>old</marquee></p>'
    changes = (
        parse_experience(_experience({"dom": [{"selector": "p", "action": "set_html", "value": markup}]}))
        .variations[1]
        .changes
    )
    assert changes is not None
    stored = changes.dom[0].value
    assert stored == '<p class="x">Hi <a href="/a" target="_blank" rel="noopener noreferrer">a</a>old</p>'
    assert clean_html(stored) == stored


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/", "/", True),
        ("/", "/cart", False),
        ("/products/*", "/products/tee", True),
        ("/products/*", "/products/tee/red", True),
        ("/products/*", "/collections/tee", False),
        ("/pages/a", "/pages/a/", True),
        ("/pages/a/", "/pages/a", True),
        ("/pages/a", "/pages/ab", False),
        ("/*/sale", "/en/sale", True),
        ("/a.b", "/aXb", False),
    ],
)
def test_page_patterns(pattern: str, path: str, expected: bool) -> None:
    assert page_matches(pattern, path) is expected


def test_touched_selectors_are_the_dom_targets_and_the_stylesheets_rules() -> None:
    changes = VariationChanges(
        css=".banner, .cta:hover, .x::after { color: red } @media (max-width: 600px) { .hero { margin: 0 } }",
        dom=(DomChange(".hero h1", DomAction.SET_TEXT, "x"), DomChange(".banner", DomAction.HIDE)),
    )
    assert changes.touched_selectors == (".hero h1", ".banner", ".hero")
    assert css_rule_selectors("@keyframes k { from { opacity: 0 } }") == ()


def test_the_decision_carries_the_shown_variations_changes() -> None:
    body = _experience(
        {"dom": [{"selector": "h1", "action": "set_text", "value": "B"}]}, control_changes={"payload": 1}
    )
    body["traffic_percent"] = 100
    experience = parse_experience(body)
    site = compile_site([experience])
    seen = {}
    for n in range(40):
        (decision,) = decide(site, f"visitor-{n:04d}-abcdefgh", UNIDENTIFIED, {}).decisions
        seen[decision.variation_id] = decision.to_dict()
    assert seen["b"]["changes"] == {"dom": [{"selector": "h1", "action": "set_text", "value": "B"}]}
    assert seen["control"]["changes"] == {"payload": 1}
    assert experience.type is ExperienceType.TEST

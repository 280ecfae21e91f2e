"""Decisions per second: kx-edge's `decide` against GrowthBook's Python SDK on the same site.

Run from the repository root: `python -m bench.decisions [--visitors N]`.

The site has 10 live experiences (4 custom tests, 3 advanced tests, 3 personalizations) whose
rule trees hold 3-6 `klaviyo_segment` conditions over 20 segments; visitors are identified and
in 0-8 segments, drawn from a fixed seed. GrowthBook gets the same experiments as features, one
per experience: the condition in its MongoDB-like language (`$and`/`$or`, "includes" as
`{"segments": {"$elemMatch": {"$eq": S}}}`, "does not include" as `$not` of that), the same
hash (v2), seed, coverage and normalised weights; advanced audiences become ordered rules
(`random` an experiment rule, `assign`/`exclude`/`defer` force rules). One GrowthBook instance is
built once; per visitor the benchmark sets its attributes and evaluates the 10 features. Before
timing, every decision of both engines is compared.

A second site mixes segment and visit conditions (6 live experiences): VIP AND utm_campaign =
summer-sale; Wholesale AND device = desktop; a personalization for not VIP AND a landing page
under /collections/sale; new visitors from Paid Social; consent cookie AND a mobile or tablet
device; and an exclusion group of two tests (one of them for /products/ pages only). Its
GrowthBook twin uses attributes (`utm_campaign`, `device`, `path`, `landing_path`,
`traffic_source`, `visitor`, `cookie_consent`) and conditions with `$regex`, `$in` and
`$exists`, and the exclusion group as two namespaces `[group, low, high]` with the ranges
kx-edge documents. GrowthBook classifies no traffic source, so its `traffic_source` attribute is
the one kx-edge's `Visit` computed (what an app would compute before calling an SDK). Visitors
are identified (unidentified visitors fail kx-edge's `not_equals` segment conditions, which
GrowthBook's `$not` would pass): there the semantics coincide and every decision is compared.
The figures: `decide` on prebuilt visits, the same with `Visit.from_request_fields` per
request, and GrowthBook's `set_attributes` + `eval_feature` per experience.
"""

from __future__ import annotations

import argparse
import random
import re
import string
import time
from collections.abc import Callable, Sequence
from typing import Any

from growthbook import GrowthBook

from targeting import (
    CompiledSite,
    Identity,
    Visit,
    compile_site,
    decide,
    decode_sticky,
    encode_sticky,
    parse_experience,
)

SEGMENTS = [f"Seg{i:02d}{c}" for i, c in zip(range(20), string.ascii_uppercase, strict=False)]
SECRET = b"bench-secret-of-32-bytes-length!"


def _condition(rng: random.Random) -> dict[str, str]:
    operator = "equals" if rng.random() < 0.75 else "not_equals"
    return {"attribute": "klaviyo_segment", "operator": operator, "value": rng.choice(SEGMENTS)}


def _tree(rng: random.Random, conditions: int) -> dict[str, Any]:
    """A two-level tree: the top group mixes conditions and one nested group of the other kind."""
    top, inner = ("all", "any") if rng.random() < 0.5 else ("any", "all")
    nested = rng.randint(2, max(2, conditions - 1))
    children: list[dict[str, Any]] = [_condition(rng) for _ in range(conditions - nested)]
    children.insert(rng.randint(0, len(children)), {inner: [_condition(rng) for _ in range(nested)]})
    return {top: children}


def _variations(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"v{i}", "name": f"Variation {i}", "weight": rng.choice([1, 1, 2, 3]), "is_control": i == 0}
        for i in range(count)
    ]


def site_documents(rng: random.Random) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for i in range(4):
        docs.append(
            {
                "id": f"custom-{i}",
                "type": "test",
                "name": f"Custom test {i}",
                "status": "live",
                "targeting": {"mode": "custom", "rules": _tree(rng, rng.randint(3, 6))},
                "traffic_percent": rng.choice([50, 80, 100]),
                "variations": _variations(rng, rng.randint(2, 4)),
            }
        )
    for i in range(3):
        variations = _variations(rng, rng.randint(2, 3))
        audiences = [
            {"rules": _condition(rng), "action": "exclude"},
            {"rules": {"all": [_condition(rng), _condition(rng)]}, "action": "assign", "variation_id": "v1"},
            {"rules": _tree(rng, rng.randint(3, 3)), "action": "random"},
        ]
        docs.append(
            {
                "id": f"advanced-{i}",
                "type": "test",
                "name": f"Advanced test {i}",
                "status": "live",
                # 100%: GrowthBook falls through to the next rule when a visitor misses coverage,
                # kx-edge stops at the first matching audience; at full traffic they agree.
                "targeting": {"mode": "advanced", "audiences": audiences},
                "traffic_percent": 100,
                "variations": variations,
            }
        )
    for i in range(3):
        docs.append(
            {
                "id": f"perso-{i}",
                "type": "personalization",
                "name": f"Personalization {i}",
                "status": "live",
                "targeting": {"mode": "custom", "rules": _tree(rng, rng.randint(3, 6))},
                "traffic_percent": rng.choice([90, 100]),
                # Two or more personalized variations: GrowthBook skips one-variation experiments.
                "variations": _variations(rng, rng.randint(3, 4)),
            }
        )
    return docs


def _gb_condition(node: dict[str, Any]) -> dict[str, Any]:
    if "all" in node:
        return {"$and": [_gb_condition(child) for child in node["all"]]}
    if "any" in node:
        return {"$or": [_gb_condition(child) for child in node["any"]]}
    if node["attribute"] != "klaviyo_segment":
        return _gb_visit_condition(node)
    includes = {"segments": {"$elemMatch": {"$eq": node["value"]}}}
    if node["operator"] == "equals":
        return includes
    return {"segments": {"$not": {"$elemMatch": {"$eq": node["value"]}}}}


def _gb_visit_condition(node: dict[str, Any]) -> dict[str, Any]:
    """The GrowthBook twin of the visit conditions the mixed site uses."""
    attribute, operator = node["attribute"], node["operator"]
    value: str = node.get("value", "")
    if attribute == "landing_url" and operator == "starts_with":
        return {"landing_path": {"$regex": "^" + re.escape(value)}}
    if attribute == "url" and operator == "matches" and value.startswith("re:"):
        return {"path": {"$regex": value[3:]}}
    if attribute.startswith("cookie:") and operator == "exists":
        return {"cookie_" + attribute[7:]: {"$exists": True}}
    if operator == "equals":
        return {attribute: value}
    raise ValueError(f"no GrowthBook twin for {node}")


def _gb_experiment(
    doc: dict[str, Any], condition: dict[str, Any] | None, indexes: list[int]
) -> dict[str, Any]:
    weights = [doc["variations"][i]["weight"] for i in indexes]
    rule: dict[str, Any] = {
        "key": doc["id"],
        "seed": doc["id"],
        "hashVersion": 2,
        "hashAttribute": "id",
        "variations": indexes,
        "weights": [w / sum(weights) for w in weights],
        "coverage": doc["traffic_percent"] / 100,
    }
    if condition is not None:
        rule["condition"] = condition
    return rule


def _gb_namespaces(docs: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each grouped test's GrowthBook namespace, computed as exclusion.py documents: the group's
    tests by id own consecutive ranges proportional to their exclusion weights."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        if doc.get("exclusion_group"):
            groups.setdefault(doc["exclusion_group"], []).append(doc)
    namespaces: dict[str, list[Any]] = {}
    for group, members in groups.items():
        members.sort(key=lambda d: d["id"])
        total = sum(d.get("exclusion_weight", 1) for d in members)
        low = 0.0
        for doc in members:
            high = low + doc.get("exclusion_weight", 1) / total
            namespaces[doc["id"]] = [group, low, high]
            low = high
        namespaces[members[-1]["id"]][2] = 1.0
    return namespaces


def growthbook_features(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The same experiments as GrowthBook features; the value is the variation index, -1 = none."""
    features: dict[str, Any] = {}
    namespaces = _gb_namespaces(docs)
    for doc in docs:
        targeting = doc["targeting"]
        all_indexes = list(range(len(doc["variations"])))
        rules: list[dict[str, Any]] = []
        if targeting["mode"] == "custom" and doc["type"] == "test":
            rules.append(_gb_experiment(doc, _gb_condition(targeting["rules"]), all_indexes))
            if doc["id"] in namespaces:
                rules[-1]["namespace"] = namespaces[doc["id"]]
        elif targeting["mode"] == "custom":
            rules.append(_gb_experiment(doc, _gb_condition(targeting["rules"]), all_indexes[1:]))
        else:
            for audience in targeting["audiences"]:
                condition = _gb_condition(audience["rules"])
                if audience["action"] == "random":
                    rules.append(_gb_experiment(doc, condition, all_indexes))
                else:
                    ids = [v["id"] for v in doc["variations"]]
                    forced = ids.index(audience["variation_id"]) if audience["action"] == "assign" else -1
                    rules.append({"condition": condition, "force": forced})
        features[doc["id"]] = {"defaultValue": -1, "rules": rules}
    return features


def visitors(rng: random.Random, count: int) -> list[tuple[str, frozenset[str]]]:
    alphabet = string.ascii_letters + string.digits
    return [
        ("".join(rng.choices(alphabet, k=26)), frozenset(rng.sample(SEGMENTS, rng.randint(0, 8))))
        for _ in range(count)
    ]


def _best_rates(runs: Sequence[Callable[[], None]], count: int, repeats: int) -> list[float]:
    """Visitors per second of each run, best of `repeats`, interleaved so load hits all alike."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for index, run in enumerate(runs):
            started = time.perf_counter()
            run()
            best[index] = min(best[index], time.perf_counter() - started)
    return [count / seconds for seconds in best]


def _cond(attribute: str, operator: str, value: str | None = None) -> dict[str, str]:
    node = {"attribute": attribute, "operator": operator}
    return node if value is None else {**node, "value": value}


def _seg(segment: str, operator: str = "equals") -> dict[str, str]:
    return _cond("klaviyo_segment", operator, segment)


def mixed_site_documents(rng: random.Random) -> list[dict[str, Any]]:
    """Six live experiences mixing segment and visit conditions, two in an exclusion group."""
    tests: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("vip-summer", {"all": [_seg("VIP"), _cond("utm_campaign", "equals", "summer-sale")]}, {}),
        ("wholesale-desktop", {"all": [_seg("Wholesale"), _cond("device", "equals", "desktop")]}, {}),
        (
            "paid-social-new",
            {"all": [_cond("traffic_source", "equals", "paid_social"), _cond("visitor", "equals", "new")]},
            {},
        ),
        (
            "consent-handheld",
            {
                "all": [
                    _cond("cookie:consent", "exists"),
                    {"any": [_cond("device", "equals", "mobile"), _cond("device", "equals", "tablet")]},
                ]
            },
            {},
        ),
        ("home-a", {"all": []}, {"exclusion_group": "home", "exclusion_weight": 1}),
        (
            "home-b",
            {"all": [_cond("url", "matches", "re:^/products/")]},
            {"exclusion_group": "home", "exclusion_weight": 2},
        ),
    ]
    docs = [
        {
            "id": exp_id,
            "type": "test",
            "name": exp_id,
            "status": "live",
            "targeting": {"mode": "custom", "rules": rules},
            "traffic_percent": rng.choice([50, 80, 100]),
            "variations": _variations(rng, rng.randint(2, 3)),
            **extra,
        }
        for exp_id, rules, extra in tests
    ]
    docs.insert(
        3,
        {
            "id": "sale-landing",
            "type": "personalization",
            "name": "Sale landing",
            "status": "live",
            "targeting": {
                "mode": "custom",
                "rules": {
                    "all": [
                        _seg("VIP", "not_equals"),
                        _cond("landing_url", "starts_with", "/collections/sale"),
                    ]
                },
            },
            "traffic_percent": 90,
            "variations": _variations(rng, 3),
        },
    )
    return docs


_SOURCES: list[tuple[dict[str, str], str]] = [
    ({}, ""),
    ({}, "https://www.google.com/"),
    ({}, "https://l.instagram.com/"),
    ({"utm_source": "facebook", "utm_medium": "paid_social"}, "https://m.facebook.com/"),
    ({"utm_source": "tiktok", "utm_medium": "cpc"}, ""),
    ({"utm_source": "klaviyo", "utm_medium": "email"}, ""),
    ({"utm_source": "google", "utm_medium": "cpc"}, "https://www.google.com/"),
]
_PATHS = [
    "/",
    "/collections/sale",
    "/collections/sale/shoes",
    "/products/hat-12",
    "/products/scarf",
    "/pages/about",
]


Person = tuple[str, Identity, dict[str, Any], Visit, dict[str, Any]]


def mixed_visitors(rng: random.Random, count: int) -> list[Person]:
    """Identified visitors, each with the request fields of a visit, that visit, and its
    GrowthBook attributes."""
    alphabet = string.ascii_letters + string.digits
    segments = ["VIP", "Wholesale", *SEGMENTS[:6]]
    people = []
    for _ in range(count):
        vid = "".join(rng.choices(alphabet, k=26))
        member_of = frozenset(rng.sample(segments, rng.randint(0, 3)))
        utm, referrer = rng.choice(_SOURCES)
        campaign = rng.choice(["summer-sale", "winter", None])
        session_utm = {**utm, "utm_campaign": campaign} if campaign else utm
        cookies = {"consent": "granted"} if rng.random() < 0.5 else {}
        fields: dict[str, Any] = {
            "url": "https://shop.example" + rng.choice(_PATHS),
            "landing_url": "https://shop.example" + rng.choice(_PATHS),
            "referrer": referrer,
            "utm": session_utm,
            "cookies": cookies,
            "device": rng.choice(["mobile", "tablet", "desktop"]),
            "visitor": rng.choice(["new", "returning"]),
        }
        visit = Visit.from_request_fields(**fields)
        assert visit.url is not None and visit.landing_url is not None
        attributes: dict[str, Any] = {
            "id": vid,
            "segments": sorted(member_of),
            "utm_campaign": visit.utm_campaign,
            "device": visit.device and str(visit.device),
            "visitor": visit.visitor and str(visit.visitor),
            "path": visit.url.path,
            "landing_path": visit.landing_url.path,
            "traffic_source": visit.traffic_source and str(visit.traffic_source),
        }
        if "consent" in visit.cookies:
            attributes["cookie_consent"] = visit.cookies["consent"]
        people.append((vid, Identity.identified(member_of), fields, visit, attributes))
    return people


def _agreement(
    site: CompiledSite,
    docs: Sequence[dict[str, Any]],
    gb: GrowthBook,
    people: Sequence[Person],
) -> tuple[int, int]:
    """(identical experience decisions, entered decisions) of kx-edge and GrowthBook."""
    agree = entered = 0
    for vid, identity, _, visit, attributes in people:
        gb.set_attributes(attributes)
        for decision, doc in zip(decide(site, vid, identity, {}, visit=visit).decisions, docs, strict=True):
            ids = [v["id"] for v in doc["variations"]]
            index = ids.index(decision.variation_id) if decision.entered else -1
            agree += index == gb.eval_feature(doc["id"]).value
            entered += decision.entered
    return agree, entered


def mixed_main(count: int, repeats: int) -> None:
    rng = random.Random(20240612)
    docs = mixed_site_documents(rng)
    site = compile_site(parse_experience(doc) for doc in docs)
    people = mixed_visitors(rng, count)
    gb = GrowthBook(features=growthbook_features(docs))
    agree, entered = _agreement(site, docs, gb, people)
    total = len(people) * len(docs)
    ids = [doc["id"] for doc in docs]

    def run_kx() -> None:
        for vid, identity, _, visit, _ in people:
            decide(site, vid, identity, {}, visit=visit)

    def run_kx_building_visits() -> None:
        for vid, identity, fields, _, _ in people:
            decide(site, vid, identity, {}, visit=Visit.from_request_fields(**fields))

    def run_gb() -> None:
        for _, _, _, _, attributes in people:
            gb.set_attributes(attributes)
            for key in ids:
                gb.eval_feature(key)

    kx_rate, kx_visit_rate, gb_rate = _best_rates(
        (run_kx, run_kx_building_visits, run_gb), len(people), repeats
    )
    print()
    print(f"mixed site: {len(docs)} live experiences, segment and visit conditions, an exclusion group of 2;")
    print(
        f"      {len(people)} identified visitors with a visit each; {entered / total:.0%} of decisions entered"
    )
    print(f"agreement with GrowthBook: {agree}/{total} experience decisions identical")
    print(
        f"kx-edge decide(visit=...):          {kx_rate:10,.0f} visitors/s  {kx_rate * len(docs):12,.0f} decisions/s"
    )
    print(
        f"kx-edge Visit + decide:             {kx_visit_rate:10,.0f} visitors/s  "
        f"{kx_visit_rate * len(docs):12,.0f} decisions/s"
    )
    print(
        f"GrowthBook eval_feature:            {gb_rate:10,.0f} visitors/s  {gb_rate * len(docs):12,.0f} decisions/s"
    )
    print(f"ratio decide / GrowthBook: {kx_rate / gb_rate:.1f}x")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--visitors", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    rng = random.Random(20240611)
    docs = site_documents(rng)
    site = compile_site(parse_experience(doc) for doc in docs)
    people = visitors(rng, args.visitors)
    ids = [doc["id"] for doc in docs]
    identities = [(vid, Identity.identified(segments)) for vid, segments in people]
    attributes = [{"id": vid, "segments": sorted(segments)} for vid, segments in people]
    gb = GrowthBook(features=growthbook_features(docs))

    # Both engines must agree before their speeds mean anything.
    agree = entered = 0
    for (vid, identity), attrs in zip(identities, attributes, strict=True):
        gb.set_attributes(attrs)
        ours = decide(site, vid, identity, {}).decisions
        for decision, doc in zip(ours, docs, strict=True):
            index = (
                [v["id"] for v in doc["variations"]].index(decision.variation_id) if decision.entered else -1
            )
            agree += index == gb.eval_feature(doc["id"]).value
            entered += decision.entered
    total = len(people) * len(docs)

    def run_kx() -> None:
        for vid, identity in identities:
            decide(site, vid, identity, {})

    def run_gb() -> None:
        for attrs in attributes:
            gb.set_attributes(attrs)
            for key in ids:
                gb.eval_feature(key)

    tokens = [
        (vid, identity, encode_sticky(SECRET, "site", vid, decide(site, vid, identity, {}).sticky, 1000))
        for vid, identity in identities
    ]

    def run_kx_with_tokens() -> None:
        for vid, identity, token in tokens:
            sticky = decode_sticky(SECRET, "site", vid, token, 1001)
            encode_sticky(SECRET, "site", vid, decide(site, vid, identity, sticky).sticky, 1001)

    kx_rate, kx_token_rate, gb_rate = _best_rates(
        (run_kx, run_kx_with_tokens, run_gb), len(people), args.repeats
    )
    token_bytes = sorted(len(token) for _, _, token in tokens)

    print(f"site: {len(docs)} live experiences (4 custom tests, 3 advanced tests, 3 personalizations),")
    print(f"      3-6 segment conditions per rule tree, {len(SEGMENTS)} segments;")
    print(
        f"      {len(people)} identified visitors in 0-8 segments; {entered / total:.0%} of decisions entered"
    )
    print(f"agreement with GrowthBook: {agree}/{total} experience decisions identical")
    print("GrowthBook: one instance built once; per visitor set_attributes() + eval_feature() x 10")
    print(
        f"kx-edge decide():                   {kx_rate:10,.0f} visitors/s  {kx_rate * len(docs):12,.0f} decisions/s"
    )
    print(
        f"kx-edge decode+decide+encode token: {kx_token_rate:9,.0f} visitors/s  "
        f"{kx_token_rate * len(docs):12,.0f} decisions/s"
    )
    print(
        f"GrowthBook eval_feature:            {gb_rate:10,.0f} visitors/s  {gb_rate * len(docs):12,.0f} decisions/s"
    )
    print(
        f"ratio decide / GrowthBook: {kx_rate / gb_rate:.1f}x   (with tokens: {kx_token_rate / gb_rate:.1f}x)"
    )
    print(f"sticky token: median {token_bytes[len(token_bytes) // 2]} chars, max {token_bytes[-1]} chars")
    mixed_main(args.visitors, args.repeats)


if __name__ == "__main__":
    main()

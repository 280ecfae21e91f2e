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
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable, Sequence
from typing import Any

from growthbook import GrowthBook

from targeting import (
    Identity,
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
    includes = {"segments": {"$elemMatch": {"$eq": node["value"]}}}
    if node["operator"] == "equals":
        return includes
    return {"segments": {"$not": {"$elemMatch": {"$eq": node["value"]}}}}


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


def growthbook_features(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The same experiments as GrowthBook features; the value is the variation index, -1 = none."""
    features: dict[str, Any] = {}
    for doc in docs:
        targeting = doc["targeting"]
        all_indexes = list(range(len(doc["variations"])))
        rules: list[dict[str, Any]] = []
        if targeting["mode"] == "custom" and doc["type"] == "test":
            rules.append(_gb_experiment(doc, _gb_condition(targeting["rules"]), all_indexes))
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


if __name__ == "__main__":
    main()

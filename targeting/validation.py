"""`parse_experience`: turn a JSON-like document into an `Experience`, or list every problem.

Problems carry dotted paths into the document (`variations[2].weight`,
`targeting.audiences[1].variation_id`, `targeting.rules.any[0].value`) so the configuration API
can answer a 422 with them as is. Unknown fields are problems too. Defaults: `status` draft,
`traffic_percent` 100, `seed` the experience id, `is_control` false, a missing `rules` matches
everyone, `exclusion_weight` 1 (only with an `exclusion_group`, and only tests have one). Sizes are bounded (variations, audiences, rule depth, nodes and conditions, problems)
so a hostile document costs little.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from targeting.attributes import ATTRIBUTES, SAFE_ID, Registry
from targeting.changes import ChangesParser
from targeting.errors import Problem, ValidationError
from targeting.model import (
    AdvancedTargeting,
    Audience,
    AudienceAction,
    CustomTargeting,
    Experience,
    ExperienceStatus,
    ExperienceType,
    PersonalizationMode,
    Targeting,
    Variation,
)
from targeting.rules import RuleParser
from targeting.visit_attributes import check_query_param_name

MAX_VARIATIONS: Final = 32
MAX_AUDIENCES: Final = 32
MAX_NAME: Final = 200
MAX_SEED: Final = 256
MAX_PROBLEMS: Final = 100
MAX_WEIGHT: Final = 1_000_000
_ID_RULE: Final = "must be 1-64 characters from A-Z a-z 0-9 _ . : -"
_FIELDS: Final = (
    *("id", "type", "name", "status", "targeting"),
    *("traffic_percent", "seed", "variations", "version", "exclusion_group", "exclusion_weight"),
    *("mode", "evaluate_every_days", "link_param", "link_value"),
)
MAX_EVALUATE_EVERY_DAYS: Final = 365
MAX_LINK_VALUE: Final = 256
_VARIATION_FIELDS: Final = ("id", "name", "weight", "is_control", "changes")


def _choices(enum: type[Any]) -> str:
    return "must be one of " + ", ".join(str(member) for member in enum)


def _finite(value: object) -> bool:
    """A JSON number that is not a boolean, NaN or infinite (huge ints never reach a float)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


class _Validator:
    def __init__(self, attributes: Registry) -> None:
        self.problems: list[Problem] = []
        self.rules = RuleParser(self.problems, attributes)
        self.changes = ChangesParser(self.problems)
        self.known_ids: set[str] = set()  # every well-formed variation id, for `assign` checks

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def unknown_fields(self, data: Mapping[Any, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(f"{path}.{key}" if path else str(key), "unknown field")

    def safe_id(self, value: object, path: str) -> str | None:
        if isinstance(value, str) and SAFE_ID.fullmatch(value):
            return value
        self.problem(path, _ID_RULE)
        return None

    def name(self, value: object, path: str) -> str | None:
        if isinstance(value, str) and value.strip() and len(value) <= MAX_NAME:
            return value
        self.problem(path, f"must be a non-empty string of at most {MAX_NAME} characters")
        return None

    def experience(self, data: object) -> Experience | None:
        if not isinstance(data, Mapping):
            self.problem("", "an experience must be a JSON object")
            return None
        self.unknown_fields(data, _FIELDS, "")
        for key in ("id", "type", "name", "variations"):
            if key not in data:
                self.problem(key, "required")
        exp_id = self.safe_id(data["id"], "id") if "id" in data else None
        kind = self.enum(ExperienceType, data.get("type"), "type") if "type" in data else None
        name = self.name(data["name"], "name") if "name" in data else None
        status = self.enum(ExperienceStatus, data.get("status", "draft"), "status")
        traffic = data.get("traffic_percent", 100)
        if not (_finite(traffic) and 0 <= traffic <= 100):
            self.problem("traffic_percent", "must be a number from 0 to 100")
        seed = data.get("seed")
        if seed is not None and not (isinstance(seed, str) and 0 < len(seed) <= MAX_SEED):
            self.problem("seed", f"must be a non-empty string of at most {MAX_SEED} characters")
        version = data.get("version")
        if version is not None and not (
            isinstance(version, int) and not isinstance(version, bool) and version >= 0
        ):
            self.problem("version", "must be an integer >= 0")
        group, weight = self.exclusion(data, kind)
        mode, every, link_param, link_value = self.personalization_mode(data, kind)
        variations = self.variations(data["variations"]) if "variations" in data else None
        # No targeting is everyone: the same as {"mode": "custom", "rules": null}.
        targeting = self.targeting(data.get("targeting", {"mode": "custom", "rules": None}), kind)
        if self.problems:
            return None
        assert exp_id and kind and name and status and targeting and variations
        return Experience(
            exp_id,
            kind,
            name,
            status,
            targeting,
            variations,
            traffic,
            seed,
            version,
            group,
            weight,
            mode,
            every,
            link_param,
            link_value,
        )

    def personalization_mode(
        self, data: Mapping[Any, Any], kind: ExperienceType | None
    ) -> tuple[PersonalizationMode, int | None, str | None, str | None]:
        """`mode` (personalizations only) and the fields each mode takes, and only those."""
        mode = PersonalizationMode.PERMANENT
        if "mode" in data:
            mode = self.enum(PersonalizationMode, data["mode"], "mode") or mode
            if kind is ExperienceType.TEST:
                self.problem("mode", "only personalizations have a mode (tests stick to their assignment)")
        every = data.get("evaluate_every_days")
        if mode is PersonalizationMode.TEMPORARY:
            if not (
                isinstance(every, int)
                and not isinstance(every, bool)
                and 1 <= every <= MAX_EVALUATE_EVERY_DAYS
            ):
                self.problem(
                    "evaluate_every_days",
                    f"a temporary personalization needs a whole number of days from 1 to {MAX_EVALUATE_EVERY_DAYS}",
                )
                every = None
        elif "evaluate_every_days" in data:
            self.problem("evaluate_every_days", "only allowed with mode temporary")
            every = None
        link_param, link_value = data.get("link_param"), data.get("link_value")
        if mode is PersonalizationMode.LINK:
            problem = (
                check_query_param_name(link_param) if isinstance(link_param, str) else "must be a string"
            )
            if problem is not None:
                self.problem("link_param", problem)
            if not (
                isinstance(link_value, str) and 0 < len(link_value) <= MAX_LINK_VALUE and link_value.strip()
            ):
                self.problem(
                    "link_value", f"must be a non-empty string of at most {MAX_LINK_VALUE} characters"
                )
        else:
            for name in ("link_param", "link_value"):
                if name in data:
                    self.problem(name, "only allowed with mode link")
            link_param = link_value = None
        return mode, every, link_param, link_value

    def exclusion(self, data: Mapping[Any, Any], kind: ExperienceType | None) -> tuple[str | None, Any]:
        """`exclusion_group` (a safe id, tests only) and `exclusion_weight` (> 0, default 1)."""
        group = data.get("exclusion_group")
        weight = data.get("exclusion_weight", 1)
        if group is not None:
            group = self.safe_id(group, "exclusion_group")
            if kind is ExperienceType.PERSONALIZATION:
                self.problem("exclusion_group", "only tests can be in an exclusion group")
        if "exclusion_weight" in data:
            if not (_finite(weight) and 0 < weight <= MAX_WEIGHT):
                self.problem("exclusion_weight", f"must be a number > 0 and at most {MAX_WEIGHT}")
            elif data.get("exclusion_group") is None:
                self.problem("exclusion_weight", "only allowed with an exclusion_group")
        return group, weight

    def enum(self, enum: type[Any], value: object, path: str) -> Any:
        try:
            return enum(value)
        except (ValueError, TypeError):
            self.problem(path, _choices(enum))
            return None

    def variations(self, data: object) -> tuple[Variation, ...] | None:
        if not isinstance(data, list):
            self.problem("variations", f"must be a list of 2 to {MAX_VARIATIONS} variations")
            return None
        if not 2 <= len(data) <= MAX_VARIATIONS:
            self.problem("variations", f"must be a list of 2 to {MAX_VARIATIONS} variations")
        items = data[:MAX_VARIATIONS]
        parsed = [self.variation(item, f"variations[{i}]") for i, item in enumerate(items)]
        # Duplicates and the control count are judged on every item, even one with other problems.
        seen: set[str] = set()
        controls: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            raw_id = item.get("id")
            var_id = raw_id if isinstance(raw_id, str) and SAFE_ID.fullmatch(raw_id) else None
            if var_id is not None and var_id in seen:
                self.problem(f"variations[{i}].id", f"duplicate variation id {var_id!r}")
            if var_id is not None:
                seen.add(var_id)
            if item.get("is_control") is True:
                controls.append(var_id or f"variations[{i}]")
        if len(controls) != 1:
            found = ", ".join(controls) if controls else "none"
            self.problem("variations", f"exactly one variation must be the control (found: {found})")
        if not all(parsed):
            return None
        return tuple(v for v in parsed if v is not None)

    def variation(self, data: object, path: str) -> Variation | None:
        if not isinstance(data, Mapping):
            self.problem(path, "must be a variation object")
            return None
        before = len(self.problems)
        self.unknown_fields(data, _VARIATION_FIELDS, path)
        for key in ("id", "name", "weight"):
            if key not in data:
                self.problem(f"{path}.{key}", "required")
        var_id = self.safe_id(data["id"], f"{path}.id") if "id" in data else None
        if var_id is not None:
            self.known_ids.add(var_id)
        name = self.name(data["name"], f"{path}.name") if "name" in data else None
        weight = data.get("weight", 1)
        if not (_finite(weight) and 0 < weight <= MAX_WEIGHT):
            self.problem(f"{path}.weight", f"must be a number > 0 and at most {MAX_WEIGHT}")
        is_control = data.get("is_control", False)
        if not isinstance(is_control, bool):
            self.problem(f"{path}.is_control", "must be true or false")
        changes = self.changes.parse(data.get("changes"), f"{path}.changes")
        if len(self.problems) != before or var_id is None or name is None:
            return None
        return Variation(var_id, name, weight, is_control, changes)

    def targeting(self, data: object, kind: ExperienceType | None) -> Targeting | None:
        if not isinstance(data, Mapping):
            self.problem("targeting", "must be an object")
            return None
        mode = data.get("mode")
        if mode == "custom":
            self.unknown_fields(data, ("mode", "rules"), "targeting")
            rules = self.rules.parse(data.get("rules"), "targeting.rules")
            return CustomTargeting(rules) if rules is not None else None
        if mode != "advanced":
            self.problem("targeting.mode", "must be one of custom, advanced")
            return None
        if kind is ExperienceType.PERSONALIZATION:
            self.problem("targeting.mode", "personalizations use custom targeting")
        self.unknown_fields(data, ("mode", "audiences"), "targeting")
        items = data.get("audiences")
        if not isinstance(items, list):
            self.problem("targeting.audiences", f"must be a list of at most {MAX_AUDIENCES} audiences")
            return None
        if len(items) > MAX_AUDIENCES:
            self.problem("targeting.audiences", f"must be a list of at most {MAX_AUDIENCES} audiences")
        audiences = [
            self.audience(item, f"targeting.audiences[{i}]") for i, item in enumerate(items[:MAX_AUDIENCES])
        ]
        if not all(audiences):
            return None
        return AdvancedTargeting(tuple(a for a in audiences if a is not None))

    def audience(self, data: object, path: str) -> Audience | None:
        if not isinstance(data, Mapping):
            self.problem(path, "must be an audience object")
            return None
        before = len(self.problems)
        self.unknown_fields(data, ("rules", "action", "variation_id"), path)
        rules = self.rules.parse(data.get("rules"), f"{path}.rules")
        action = self.enum(AudienceAction, data.get("action"), f"{path}.action")
        target = data.get("variation_id")
        if action is AudienceAction.ASSIGN:
            if target is None:
                self.problem(f"{path}.variation_id", "required when action is assign")
            elif not isinstance(target, str) or target not in self.known_ids:
                self.problem(f"{path}.variation_id", "unknown variation")
        elif target is not None:
            self.problem(f"{path}.variation_id", "only allowed when action is assign")
        if len(self.problems) != before or rules is None:
            return None
        return Audience(rules, action, target)


def parse_experience(data: Mapping[str, Any], *, attributes: Registry = ATTRIBUTES) -> Experience:
    """Validate `data` and build an `Experience`; raise `ValidationError` listing every problem."""
    validator = _Validator(attributes)
    experience = validator.experience(data)
    problems = validator.problems
    if problems or experience is None:
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], Problem("", f"and {more} more problems")]
        raise ValidationError(problems)
    return experience

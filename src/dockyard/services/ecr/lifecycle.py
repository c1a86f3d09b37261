"""ECR lifecycle policies: the policy text validated as AWS validates it, and a pure evaluator.

Pure by design: no I/O, no store, no clock. The caller passes the images and ``now``.

Validation (:func:`parse_lifecycle_policy`) runs in AWS's order: the text's length (an API constraint), then
the JSON document against the policy schema (AWS validates with a JSON-schema validator and quotes its
messages: ``object has missing required properties (["rules"])`` …), then the rules' meaning (tag filters,
unique priorities, one untagged rule, the ``any`` rule last). The first failure raises
:class:`~dockyard.core.errors.InvalidParameterError` with AWS's message.

Evaluation (:func:`evaluate`, alias :func:`preview`) follows AWS's documented rules:

* rules are applied in priority order, lowest ``rulePriority`` first;
* each rule *identifies* every image its tag selection matches, including images that a higher-priority rule
  already matched or expired (so ``imageCountMoreThan`` counts them), and *marks* the ones its count
  criterion picks, oldest first;
* an image matched by the tag selection of a higher-priority rule cannot be expired by a lower-priority rule,
  whether or not that higher-priority rule expired it — so every image is expired by at most one rule.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal, TypeAlias, cast

from dockyard.core.errors import InvalidParameterError

__all__ = [
    "MAX_PATTERN_WILDCARDS",
    "MAX_POLICY_TEXT_LENGTH",
    "MIN_POLICY_TEXT_LENGTH",
    "CountType",
    "CountUnit",
    "Expiration",
    "ImageFacts",
    "LifecyclePolicy",
    "Rule",
    "TagStatus",
    "evaluate",
    "parse_lifecycle_policy",
    "preview",
]

TagStatus: TypeAlias = Literal["tagged", "untagged", "any"]
CountType: TypeAlias = Literal["imageCountMoreThan", "sinceImagePushed"]
CountUnit: TypeAlias = Literal["days"]

MIN_POLICY_TEXT_LENGTH: Final = 100
MAX_POLICY_TEXT_LENGTH: Final = 30720
MAX_PATTERN_WILDCARDS: Final = 4

_TAG_STATUSES: Final[tuple[TagStatus, ...]] = ("tagged", "untagged", "any")
_ACTION_TYPES: Final = ("expire",)
_POLICY_KEYS: Final = frozenset({"rules"})
_RULE_REQUIRED: Final = ("action", "rulePriority", "selection")
_RULE_KEYS: Final = frozenset({*_RULE_REQUIRED, "description"})
_SELECTION_REQUIRED: Final = ("countNumber", "countType", "tagStatus")
_SELECTION_KEYS: Final = frozenset({*_SELECTION_REQUIRED, "tagPrefixList", "tagPatternList", "countUnit"})
_ACTION_KEYS: Final = frozenset({"type"})

_FAILURE_PREFIX: Final = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
    "'Lifecycle policy validation failure: "
)
_LENGTH_PREFIX: Final = "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: "


# --- model -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule. ``tag_prefixes``/``tag_patterns`` are empty when the policy omits them."""

    priority: int
    description: str | None
    tag_status: TagStatus
    tag_prefixes: tuple[str, ...]
    tag_patterns: tuple[str, ...]
    count_type: CountType
    count_unit: CountUnit | None
    count_number: int

    def selects(self, tags: Sequence[str]) -> bool:
        """Whether the rule's tag selection matches an image carrying ``tags``.

        ``untagged``: no tags. ``any``: every image. ``tagged``: at least one tag, and every prefix (or every
        pattern) in the list is matched by at least one of the image's tags — AWS's "all specified tags".
        """
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        return bool(tags) and _tags_match_filters(tags, self.tag_prefixes, self.tag_patterns)


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """A validated policy; :func:`parse_lifecycle_policy` returns its rules sorted by priority."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What evaluation needs to know about one image (``pushed_at`` comparable with ``now``)."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


@dataclass(frozen=True, slots=True)
class Expiration:
    """An image the policy expires, and the priority of the rule that expires it."""

    digest: str
    rule_priority: int


# --- parsing: entry point ------------------------------------------------------------------------------


def parse_lifecycle_policy(text: str) -> LifecyclePolicy:
    """Validate a lifecycle policy text as ECR's PutLifecyclePolicy does and return its model.

    Raises :class:`InvalidParameterError` (``InvalidParameterException``) with AWS's message for the first
    failure found. The returned rules are sorted by ``rulePriority`` (unique, positive).
    """
    _check_length(text)
    document = _load_document(text)
    rule_nodes = _rule_nodes(document)
    rules = [_parse_rule(node) for node in rule_nodes]
    for rule in rules:
        _check_tag_filters(rule)
    _check_rule_set(rules)
    return LifecyclePolicy(tuple(sorted(rules, key=lambda rule: rule.priority)))


# --- parsing: errors and JSON-schema style checks --------------------------------------------------------


def _failure(detail: str) -> InvalidParameterError:
    return InvalidParameterError(f"{_FAILURE_PREFIX}{detail}'")


def _render(value: object) -> str:
    """JSON as the schema validator prints it: compact, strings quoted."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _expect_type(value: object, expected: str) -> None:
    actual = _json_type(value)
    if actual != expected:
        allowed = _render([expected])
        raise _failure(
            f"instance type ({actual}) does not match any allowed primitive type (allowed: {allowed})"
        )


def _expect_object(value: object, required: Sequence[str], allowed: frozenset[str]) -> dict[str, Any]:
    """An object with every ``required`` member and no member outside ``allowed``."""
    _expect_type(value, "object")
    node = cast(dict[str, Any], value)
    missing = sorted(set(required) - node.keys())
    if missing:
        raise _failure(f"object has missing required properties ({_render(missing)})")
    extra = sorted(node.keys() - allowed)
    if extra:
        not_allowed = _render(extra)
        raise _failure(f"object instance has properties which are not allowed by the schema: {not_allowed}")
    return node


def _expect_positive_integer(value: object) -> int:
    _expect_type(value, "integer")
    number = cast(int, value)
    if number < 1:
        raise _failure(f"numeric instance is lower than the required minimum (minimum: 1, found: {number})")
    return number


def _expect_enum(value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        shown, possible = _render(value), _render(allowed)
        raise _failure(f"instance value ({shown}) not found in enum (possible values: {possible})")
    return value


def _expect_non_empty_array(value: object) -> list[Any]:
    _expect_type(value, "array")
    items = cast(list[Any], value)
    if not items:
        raise _failure("array is too short: must have at least 1 elements but instance has 0 elements")
    return items


def _optional_string_list(node: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """The member as a tuple of strings; empty when absent (present lists must be non-empty)."""
    if key not in node:
        return ()
    items = _expect_non_empty_array(node[key])
    for item in items:
        _expect_type(item, "string")
    return tuple(items)


# --- parsing: the document --------------------------------------------------------------------------------


def _check_length(text: str) -> None:
    if len(text) < MIN_POLICY_TEXT_LENGTH:
        raise InvalidParameterError(
            f"{_LENGTH_PREFIX}'Member must have length greater than or equal to {MIN_POLICY_TEXT_LENGTH}'"
        )
    if len(text) > MAX_POLICY_TEXT_LENGTH:
        raise InvalidParameterError(
            f"{_LENGTH_PREFIX}'Member must have length less than or equal to {MAX_POLICY_TEXT_LENGTH}'"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_document(text: str) -> dict[str, Any]:
    """The text as a JSON object; anything else "could not map" to a policy."""
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise _failure("Could not map policyString into LifecyclePolicy.")
    return document


def _rule_nodes(document: Mapping[str, Any]) -> list[Any]:
    policy = _expect_object(document, ("rules",), _POLICY_KEYS)
    return _expect_non_empty_array(policy["rules"])


def _parse_rule(node: object) -> Rule:
    rule = _expect_object(node, _RULE_REQUIRED, _RULE_KEYS)
    priority = _expect_positive_integer(rule["rulePriority"])
    description = rule.get("description")
    if "description" in rule:
        _expect_type(description, "string")
    parsed = _parse_selection(rule["selection"], priority, description)
    _parse_action(rule["action"])
    return parsed


def _parse_selection(node: object, priority: int, description: str | None) -> Rule:
    selection = _expect_object(node, _SELECTION_REQUIRED, _SELECTION_KEYS)
    tag_status = cast(TagStatus, _expect_enum(selection["tagStatus"], _TAG_STATUSES))
    prefixes = _optional_string_list(selection, "tagPrefixList")
    patterns = _optional_string_list(selection, "tagPatternList")
    count_type, count_unit = _parse_count_kind(selection)
    count_number = _expect_positive_integer(selection["countNumber"])
    return Rule(priority, description, tag_status, prefixes, patterns, count_type, count_unit, count_number)


def _parse_count_kind(selection: Mapping[str, Any]) -> tuple[CountType, CountUnit | None]:
    """countType and countUnit, which AWS's schema validates as one of two shapes.

    ``imageCountMoreThan`` takes no countUnit; ``sinceImagePushed`` requires countUnit ``"days"``. Anything
    else fails both shapes, and AWS reports only that.
    """
    count_type = selection["countType"]
    has_unit = "countUnit" in selection
    if count_type == "imageCountMoreThan" and not has_unit:
        return "imageCountMoreThan", None
    if count_type == "sinceImagePushed" and has_unit and selection["countUnit"] == "days":
        return "sinceImagePushed", "days"
    raise _failure("instance failed to match exactly one schema (matched 0 out of 2)")


def _parse_action(node: object) -> None:
    action = _expect_object(node, ("type",), _ACTION_KEYS)
    _expect_enum(action["type"], _ACTION_TYPES)


# --- parsing: the rules' meaning ---------------------------------------------------------------------------


def _check_tag_filters(rule: Rule) -> None:
    """tagged needs exactly one of the two lists; the others take neither; patterns have ≤ 4 wildcards."""
    has_prefixes, has_patterns = bool(rule.tag_prefixes), bool(rule.tag_patterns)
    if rule.tag_status == "tagged" and not (has_prefixes or has_patterns):
        raise _failure("Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.")
    if rule.tag_status != "tagged" and (has_prefixes or has_patterns):
        raise _failure("tagPrefixList and tagPatternList can only be specified when tagStatus=TAGGED.")
    if has_prefixes and has_patterns:
        raise _failure("A rule cannot specify both tagPrefixList and tagPatternList.")
    for pattern in rule.tag_patterns:
        if pattern.count("*") > MAX_PATTERN_WILDCARDS:
            raise _failure(
                f"A tagPatternList pattern can contain at most {MAX_PATTERN_WILDCARDS} wildcards (*): "
                f"{_render(pattern)}."
            )


def _check_rule_set(rules: Sequence[Rule]) -> None:
    """Unique priorities, at most one untagged rule, and every ``any`` rule last."""
    duplicated = sorted(p for p, n in Counter(rule.priority for rule in rules).items() if n > 1)
    if duplicated:
        raise _failure(f"Rule priorities must be unique; duplicate rulePriority: {duplicated[0]}.")
    if sum(rule.tag_status == "untagged" for rule in rules) > 1:
        raise _failure("Only one rule can select Untagged images per storage class.")
    last = max(rule.priority for rule in rules)
    if any(rule.tag_status == "any" and rule.priority != last for rule in rules):
        raise _failure("Rule for tagStatus=ANY must have the lowest priority per storage class.")


# --- evaluation --------------------------------------------------------------------------------------------


def evaluate(policy: LifecyclePolicy, images: Sequence[ImageFacts], now: datetime) -> list[Expiration]:
    """The images ``policy`` expires at ``now``, ordered by rule priority, then oldest first.

    Guarantees: every expired image is one of ``images``; no image is expired twice; an image matched by the
    tag selection of a higher-priority rule is never expired by a lower-priority one; the result does not
    depend on the order of ``images`` (age ties are broken by digest: the greater digest counts as newer).
    ``imageCountMoreThan N`` keeps the N newest images its selection matches, counting images claimed by
    earlier rules; ``sinceImagePushed N`` expires matched images pushed more than N days before ``now``
    (exactly N days is kept). Raises :class:`ValueError` if two images share a digest.
    """
    oldest_first = _oldest_first(images)
    claimed: set[str] = set()
    expired: list[Expiration] = []
    for rule in sorted(policy.rules, key=lambda rule: rule.priority):
        matched = [image for image in oldest_first if rule.selects(image.tags)]
        expired.extend(
            Expiration(image.digest, rule.priority)
            for image in _marked(rule, matched, now)
            if image.digest not in claimed
        )
        claimed.update(image.digest for image in matched)
    return expired


preview = evaluate
"""A lifecycle policy preview: by construction exactly what :func:`evaluate` expires."""


def _oldest_first(images: Sequence[ImageFacts]) -> list[ImageFacts]:
    digests = Counter(image.digest for image in images)
    duplicated = sorted(digest for digest, n in digests.items() if n > 1)
    if duplicated:
        raise ValueError(f"images must have distinct digests; repeated: {duplicated[0]}")
    return sorted(images, key=lambda image: (image.pushed_at, image.digest))


def _marked(rule: Rule, matched_oldest_first: list[ImageFacts], now: datetime) -> list[ImageFacts]:
    """The matched images the rule's count criterion picks, oldest first."""
    if rule.count_type == "imageCountMoreThan":
        surplus = len(matched_oldest_first) - rule.count_number
        return matched_oldest_first[:surplus] if surplus > 0 else []
    return [image for image in matched_oldest_first if _pushed_more_than(rule.count_number, image, now)]


def _pushed_more_than(days: int, image: ImageFacts, now: datetime) -> bool:
    if days > timedelta.max.days:
        return False
    return now - image.pushed_at > timedelta(days=days)


# --- tag matching ------------------------------------------------------------------------------------------


def _tags_match_filters(tags: Sequence[str], prefixes: Sequence[str], patterns: Sequence[str]) -> bool:
    """Every prefix starts, and every pattern matches, at least one tag (not necessarily the same one)."""
    if not all(any(tag.startswith(prefix) for tag in tags) for prefix in prefixes):
        return False
    return all(any(_pattern_regex(pattern).fullmatch(tag) for tag in tags) for pattern in patterns)


@lru_cache(maxsize=1024)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters (also none); everything else is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)

"""The rules ECS applies to resource tags, pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dockyard.services.ecs.errors import InvalidParameterException

MAX_TAGS = 50


def tag_pairs(tags: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    """``[{key, value}]`` → ``[(key, value)]``, the last value winning; no more than 50, no ``aws:`` keys."""
    if len(tags) > MAX_TAGS:
        raise InvalidParameterException(f"A resource can have at most {MAX_TAGS} tags.")
    pairs: dict[str, str] = {}
    for tag in tags:
        key, value = tag.get("key"), tag.get("value", "")
        if not key:
            raise InvalidParameterException("Tag keys must not be empty.")
        if key.lower().startswith("aws:"):
            raise InvalidParameterException("Tag keys starting with 'aws:' are reserved for AWS use.")
        pairs[key] = value
    return list(pairs.items())

"""Repository names and tags as the OCI distribution spec defines them, with ECR's length limit.

A name is path components of lowercase alphanumerics joined by ``.``, ``_``, ``__`` or dashes, separated
by ``/`` (``team/web-app``); at most 256 characters, ECR's limit. A tag is up to 128 characters of
``[a-zA-Z0-9_.-]`` not starting with ``.`` or ``-``.
"""

from __future__ import annotations

import re

from dockyard.registry.errors import NameInvalid, TagInvalid

MAX_REPOSITORY_NAME_LENGTH = 256
MAX_TAG_LENGTH = 128

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME_PATTERN = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_PATTERN = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def valid_repository_name(name: str) -> bool:
    # Length first: it bounds the work the regex can be made to do.
    return len(name) <= MAX_REPOSITORY_NAME_LENGTH and REPOSITORY_NAME_PATTERN.fullmatch(name) is not None


def valid_tag(tag: str) -> bool:
    return len(tag) <= MAX_TAG_LENGTH and TAG_PATTERN.fullmatch(tag) is not None


def check_repository_name(name: str) -> str:
    """``name`` if valid; NAME_INVALID otherwise."""
    if not valid_repository_name(name):
        raise NameInvalid({"name": name[: MAX_REPOSITORY_NAME_LENGTH + 1]})
    return name


def check_tag(tag: str) -> str:
    """``tag`` if valid; TAG_INVALID otherwise."""
    if not valid_tag(tag):
        raise TagInvalid({"tag": tag[: MAX_TAG_LENGTH + 1]}, message="invalid tag")
    return tag

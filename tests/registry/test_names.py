from __future__ import annotations

import pytest

from dockyard.registry.errors import NameInvalid, TagInvalid
from dockyard.registry.names import check_repository_name, check_tag, valid_repository_name, valid_tag


@pytest.mark.parametrize(
    "name",
    ["a", "web", "team/web-app", "a.b_c__d---e", "a/b/c/d", "0", "x" * 256, "a" * 127 + "/" + "b" * 128],
)
def test_valid_repository_names(name: str) -> None:
    assert valid_repository_name(name)
    assert check_repository_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Web", "web/", "/web", "a//b", "a___b", "a..b", "-a", "a-", "a_", "a b", "web\n", "x" * 257, "ü"],
)
def test_invalid_repository_names(name: str) -> None:
    assert not valid_repository_name(name)
    with pytest.raises(NameInvalid) as caught:
        check_repository_name(name)
    assert (caught.value.code, caught.value.status) == ("NAME_INVALID", 400)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b.C_d", "9" * 128])
def test_valid_tags(tag: str) -> None:
    assert valid_tag(tag)
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".hidden", "-x", "a/b", "a:b", "t" * 129, "latest\n", "sha256:abc"])
def test_invalid_tags(tag: str) -> None:
    assert not valid_tag(tag)
    with pytest.raises(TagInvalid) as caught:
        check_tag(tag)
    assert caught.value.code == "TAG_INVALID"


def test_long_pathological_names_are_rejected_quickly() -> None:
    assert not valid_repository_name("a-" * 10_000 + "!")
    assert not valid_repository_name("a" + "-a" * 127 + "!")

"""Container instance rules: resources, references, attributes, views. Pure functions, no I/O.

- ``totalResources`` as the ECS agent sends it: CPU and MEMORY (INTEGER), PORTS and PORTS_UDP (STRINGSET
  of port numbers); CPU and MEMORY are required (dockyard has no instance identity document to read them
  from).
- A container instance is named by its id or its ARN (``…:container-instance/<cluster>/<id>`` or the old
  ``…:container-instance/<id>``); an ARN of another account, region or cluster names nothing.
- Attributes: names of 1-128 letters, digits, ``-_/\\.``; values of 1-128 letters, digits, ``-_.@/\\:``
  and spaces, not starting or ending with a space; at most 10 per PutAttributes call and 10 custom ones
  per instance. Built-in attributes (``ecs.*``, ``com.amazonaws.ecs.*``) come from the agent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from dockyard.core.arn import build_arn, parse_arn
from dockyard.services.ecs.errors import AttributeLimitExceededException, InvalidParameterException

MAX_ATTRIBUTES_PER_CALL = 10
MAX_CUSTOM_ATTRIBUTES = 10
TARGET_TYPE = "container-instance"
BUILT_IN_PREFIXES = ("ecs.", "com.amazonaws.ecs.")
_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9_/\\.-]{1,128}")
_ATTRIBUTE_VALUE = re.compile(r"[a-zA-Z0-9_.@/\\: -]{1,128}")
_INSTANCE_ID = re.compile(r"[a-zA-Z0-9-]{1,64}")
_RESOURCE_DEFAULTS = {"doubleValue": 0.0, "longValue": 0, "integerValue": 0}


@dataclass(frozen=True, slots=True)
class Resources:
    cpu: int
    memory: int
    ports_tcp: tuple[int, ...] = ()
    ports_udp: tuple[int, ...] = ()


def container_instance_arn(region: str, account_id: str, cluster: str, instance_id: str) -> str:
    return build_arn("ecs", region, account_id, f"container-instance/{cluster}/{instance_id}")


def parse_total_resources(resources: Sequence[Mapping[str, Any]]) -> Resources:
    """CPU, MEMORY, PORTS and PORTS_UDP out of ``totalResources``; other resources are ignored."""
    by_name = {resource.get("name"): resource for resource in resources}
    missing = [name for name in ("CPU", "MEMORY") if name not in by_name]
    if missing:
        raise InvalidParameterException(f"totalResources must include {' and '.join(missing)}.")
    return Resources(
        cpu=_number(by_name["CPU"]),
        memory=_number(by_name["MEMORY"]),
        ports_tcp=_ports(by_name.get("PORTS")),
        ports_udp=_ports(by_name.get("PORTS_UDP")),
    )


def rebase_remaining(old_registered: Resources, old_remaining: Resources, new: Resources) -> Resources:
    """Remaining resources after re-registering with ``new``: what tasks used of the old registration
    (registered minus remaining; ports beyond the reserved ones) is still in use."""
    used_tcp = set(old_remaining.ports_tcp) - set(old_registered.ports_tcp)
    used_udp = set(old_remaining.ports_udp) - set(old_registered.ports_udp)
    return Resources(
        cpu=new.cpu - (old_registered.cpu - old_remaining.cpu),
        memory=new.memory - (old_registered.memory - old_remaining.memory),
        ports_tcp=tuple(sorted(set(new.ports_tcp) | used_tcp)),
        ports_udp=tuple(sorted(set(new.ports_udp) | used_udp)),
    )


def resources_view(resources: Resources) -> list[dict[str, Any]]:
    """The Resource list ECS returns (registeredResources / remainingResources)."""
    return [
        {"name": "CPU", "type": "INTEGER", **_RESOURCE_DEFAULTS, "integerValue": resources.cpu},
        {"name": "MEMORY", "type": "INTEGER", **_RESOURCE_DEFAULTS, "integerValue": resources.memory},
        {
            "name": "PORTS",
            "type": "STRINGSET",
            **_RESOURCE_DEFAULTS,
            "stringSetValue": _strings(resources.ports_tcp),
        },
        {
            "name": "PORTS_UDP",
            "type": "STRINGSET",
            **_RESOURCE_DEFAULTS,
            "stringSetValue": _strings(resources.ports_udp),
        },
    ]


def ec2_instance_id(identity_document: str | None, instance_id: str) -> str:
    """The document's ``instanceId`` when there is one, else a stable ``i-`` + 17 hex id."""
    if identity_document:
        try:
            document = orjson.loads(identity_document)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameterException("instanceIdentityDocument is not valid JSON.") from exc
        found = document.get("instanceId") if isinstance(document, dict) else None
        if isinstance(found, str) and found:
            return found
    return "i-" + hashlib.sha256(instance_id.encode()).hexdigest()[:17]


def instance_id_from_reference(reference: str, *, region: str, account_id: str, cluster: str) -> str | None:
    """The instance id ``reference`` (an id or an ARN) names in this account, region and cluster, or
    ``None`` if it names an instance the caller cannot see; a malformed reference is an
    InvalidParameterException."""
    if not reference.startswith("arn:"):
        if not _INSTANCE_ID.fullmatch(reference):
            raise InvalidParameterException(f"Invalid container instance: {reference}")
        return reference
    arn = parse_arn(reference)
    if arn is None or arn.service != "ecs" or arn.resource_type != TARGET_TYPE:
        raise InvalidParameterException(f"Invalid container instance ARN: {reference}")
    parts = arn.resource.split("/")
    if len(parts) not in (2, 3) or not _INSTANCE_ID.fullmatch(parts[-1]):
        raise InvalidParameterException(f"Invalid container instance ARN: {reference}")
    if arn.account_id != account_id or arn.region != region or (len(parts) == 3 and parts[1] != cluster):
        return None
    return parts[-1]


def check_attribute(name: str, value: str | None) -> None:
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise InvalidParameterException(
            f"Invalid attribute name '{name}': up to 128 letters, numbers, hyphens, underscores, forward "
            "slashes, back slashes and periods are allowed."
        )
    if value is not None and (not _ATTRIBUTE_VALUE.fullmatch(value) or value != value.strip(" ")):
        raise InvalidParameterException(
            f"Invalid value for attribute '{name}': up to 128 letters, numbers, hyphens, underscores, "
            "periods, at signs, forward slashes, back slashes, colons and spaces are allowed, and it "
            "cannot start or end with a space."
        )


def attribute_pairs(attributes: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Checked ``{name: value}`` out of a list of Attribute structures (the last value of a name wins)."""
    pairs: dict[str, str | None] = {}
    for attribute in attributes:
        name, value = attribute["name"], attribute.get("value")
        check_attribute(name, value)
        pairs[name] = value
    return pairs


def is_built_in(name: str) -> bool:
    return name.startswith(BUILT_IN_PREFIXES)


def registration_attributes(
    existing: Mapping[str, str | None], sent: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The attributes after a (re-)registration: the built-in ones are the agent's new set; custom ones
    are kept, and those the agent sends replace them."""
    kept = {name: value for name, value in existing.items() if not is_built_in(name)}
    return check_custom_limit({**kept, **sent})


def check_custom_limit(attributes: dict[str, str | None]) -> dict[str, str | None]:
    custom = [name for name in attributes if not is_built_in(name)]
    if len(custom) > MAX_CUSTOM_ATTRIBUTES:
        raise AttributeLimitExceededException(
            f"A container instance can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
        )
    return attributes


def attribute_list(attributes: Mapping[str, str | None]) -> list[dict[str, str]]:
    return [_attribute(name, value) for name, value in attributes.items()]


def attribute_view(name: str, value: str | None, target_arn: str) -> dict[str, str]:
    """An Attribute as PutAttributes / ListAttributes / DeleteAttributes return it."""
    return {**_attribute(name, value), "targetType": TARGET_TYPE, "targetId": target_arn}


def _attribute(name: str, value: str | None) -> dict[str, str]:
    return {"name": name} if value is None else {"name": name, "value": value}


def _number(resource: Mapping[str, Any]) -> int:
    values = (resource.get(key) for key in ("integerValue", "longValue", "doubleValue"))
    value = next((v for v in values if v is not None), None)
    if value is None or int(value) < 0:
        raise InvalidParameterException(f"Invalid value for resource {resource.get('name')}.")
    return int(value)


def _ports(resource: Mapping[str, Any] | None) -> tuple[int, ...]:
    if resource is None:
        return ()
    ports: set[int] = set()
    for text in resource.get("stringSetValue") or []:
        if not str(text).isdigit() or not 0 < int(text) <= 65535:
            raise InvalidParameterException(f"Invalid port {text!r} in resource {resource.get('name')}.")
        ports.add(int(text))
    return tuple(sorted(ports))


def _strings(ports: Iterable[int]) -> list[str]:
    return [str(port) for port in ports]

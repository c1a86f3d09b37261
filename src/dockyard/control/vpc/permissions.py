"""Security-group rules: EC2's ``IpPermissions`` split into single rules and grouped back. Pure.

A stored rule is one (protocol, port range, source) triple, ``{"protocol", "from", "to", "kind", "source",
"user", "description"}`` with kind ``cidr`` (IPv4), ``cidr6`` or ``group`` (another security group, whose
members' addresses the rule admits). Protocol ``-1`` means every protocol and port; ``from``/``to`` are None
then. EC2 answers with the rules grouped by (protocol, ports), in the order they were added.

For the agents' firewall, :func:`firewall_interfaces` resolves interfaces' ingress to IPv4 CIDRs (a rule
naming a group becomes its members' ``/32``s): the ``FirewallMessage`` of :mod:`dockyard.core.agent_protocol`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from dockyard.control.vpc.network import InvalidParameterValueError, valid_cidr
from dockyard.core.errors import ApiError

Rule = dict[str, Any]

_PROTOCOL_NAMES = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}
_ALL = {"-1", "all"}


class DuplicatePermissionError(ApiError):
    code = "InvalidPermission.Duplicate"


class PermissionNotFoundError(ApiError):
    code = "InvalidPermission.NotFound"


def expand(permissions: Sequence[Mapping[str, Any]], *, account_id: str, resolve_group: Any) -> list[Rule]:
    """Single rules of ``IpPermissions``. ``resolve_group(group_id or None, group_name or None)`` returns the
    referenced group's id or raises its not-found error."""
    rules: list[Rule] = []
    for permission in permissions:
        protocol, low, high = _protocol_and_ports(permission)
        base = {"protocol": protocol, "from": low, "to": high}
        sources = 0
        for item in permission.get("IpRanges") or []:
            cidr = str(item.get("CidrIp", ""))
            if not valid_cidr(cidr) or ":" in cidr:
                raise InvalidParameterValueError(f"CIDR block {cidr} is malformed")
            rules.append({**base, "kind": "cidr", "source": _canonical(cidr), **_described(item)})
            sources += 1
        for item in permission.get("Ipv6Ranges") or []:
            cidr = str(item.get("CidrIpv6", ""))
            if not valid_cidr(cidr) or ":" not in cidr:
                raise InvalidParameterValueError(f"CIDR block {cidr} is malformed")
            rules.append({**base, "kind": "cidr6", "source": _canonical(cidr), **_described(item)})
            sources += 1
        for item in permission.get("UserIdGroupPairs") or []:
            group = resolve_group(item.get("GroupId"), item.get("GroupName"))
            user = str(item.get("UserId") or account_id)
            rules.append({**base, "kind": "group", "source": group, "user": user, **_described(item)})
            sources += 1
        if permission.get("PrefixListIds"):
            raise InvalidParameterValueError("Prefix lists are not supported by dockyard.")
        if sources == 0:
            raise ApiError(
                "The request must contain the parameter ipPermissions.ipRanges, ipv6Ranges or groups",
                code="MissingParameter",
            )
    return rules


def legacy_permission(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The flat form (``IpProtocol``, ``FromPort``, ``ToPort``, ``CidrIp``, ``SourceSecurityGroupName``) as
    IpPermissions, or [] when it is not used."""
    if not any(k in params for k in ("IpProtocol", "CidrIp", "SourceSecurityGroupName")):
        return []
    permission: dict[str, Any] = {"IpProtocol": params.get("IpProtocol", "-1")}
    for key in ("FromPort", "ToPort"):
        if key in params:
            permission[key] = params[key]
    if "CidrIp" in params:
        permission["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
    if "SourceSecurityGroupName" in params:
        permission["UserIdGroupPairs"] = [{"GroupName": params["SourceSecurityGroupName"]}]
    return [permission]


def add(existing: Sequence[Rule], new: Sequence[Rule]) -> list[Rule]:
    """``existing`` + ``new``; InvalidPermission.Duplicate for a rule already there (or given twice)."""
    result = list(existing)
    for rule in new:
        if any(_same(rule, old) for old in result):
            raise DuplicatePermissionError(f'the specified rule "{_describe(rule)}" already exists')
        result.append(rule)
    return result


def remove(existing: Sequence[Rule], gone: Sequence[Rule]) -> list[Rule]:
    """``existing`` without ``gone``; InvalidPermission.NotFound when one of them is not there."""
    result = list(existing)
    for rule in gone:
        kept = [old for old in result if not _same(rule, old)]
        if len(kept) == len(result):
            raise PermissionNotFoundError("The specified rule does not exist in this security group.")
        result = kept
    return result


def grouped(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """Rules as EC2's ``IpPermissions``: one entry per (protocol, ports), sources in order."""
    entries: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    for rule in rules:
        key = (rule["protocol"], rule["from"], rule["to"])
        entry = entries.get(key)
        if entry is None:
            entry = {"IpProtocol": rule["protocol"], "IpRanges": [], "Ipv6Ranges": [], "UserIdGroupPairs": []}
            entry["PrefixListIds"] = []
            if rule["from"] is not None:
                entry["FromPort"], entry["ToPort"] = rule["from"], rule["to"]
            entries[key] = entry
        described = {"Description": rule["description"]} if rule.get("description") else {}
        if rule["kind"] == "cidr":
            entry["IpRanges"].append({"CidrIp": rule["source"], **described})
        elif rule["kind"] == "cidr6":
            entry["Ipv6Ranges"].append({"CidrIpv6": rule["source"], **described})
        else:
            entry["UserIdGroupPairs"].append({"GroupId": rule["source"], "UserId": rule["user"], **described})
    return list(entries.values())


def admits(rule: Rule, protocol: str, port: int) -> bool:
    """Whether ``rule`` lets ``protocol``/``port`` traffic in (the source is matched separately)."""
    if rule["protocol"] == "-1":
        return True
    if rule["protocol"] != protocol:
        return False
    return rule["from"] is None or rule["from"] <= port <= rule["to"]


def default_ingress(group_id: str, account_id: str) -> list[Rule]:
    """A default group admits everything from its own members."""
    return [
        {"protocol": "-1", "from": None, "to": None, "kind": "group", "source": group_id, "user": account_id}
    ]


def default_egress() -> list[Rule]:
    return [{"protocol": "-1", "from": None, "to": None, "kind": "cidr", "source": "0.0.0.0/0"}]


# --- helpers ----------------------------------------------------------------------------------------------


def _protocol_and_ports(permission: Mapping[str, Any]) -> tuple[str, int | None, int | None]:
    raw = str(permission.get("IpProtocol", "")).lower()
    if raw in _ALL:
        return "-1", None, None
    protocol = _PROTOCOL_NAMES.get(raw)
    if protocol is None:
        if not raw.isdigit() or not 0 <= int(raw) <= 255:
            raise InvalidParameterValueError(f"Invalid value '{raw}' for IP protocol. Unknown protocol.")
        return raw, None, None
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if protocol == "icmp":
        return protocol, (-1 if low is None else int(low)), (-1 if high is None else int(high))
    if low is None or high is None:
        raise InvalidParameterValueError(
            "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange."
        )
    for port in (low, high):
        if not 0 <= int(port) <= 65535:
            raise InvalidParameterValueError(
                f"Invalid value '{port}' for portRange. Must be between 0 and 65535"
            )
    if int(low) > int(high):
        raise InvalidParameterValueError(
            f"Invalid value '{low}-{high}' for portRange. From port must not be greater than to port"
        )
    return protocol, int(low), int(high)


def _canonical(cidr: str) -> str:
    return str(ipaddress.ip_network(cidr, strict=False))


def _described(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": item["Description"]} if item.get("Description") else {}


def _same(a: Rule, b: Rule) -> bool:
    keys = ("protocol", "from", "to", "kind", "source")
    return all(a.get(k) == b.get(k) for k in keys)


def _describe(rule: Rule) -> str:
    protocol = {"-1": "ALL"}.get(rule["protocol"], rule["protocol"].upper())
    ports = "" if rule["from"] is None else f", from port: {rule['from']}, to port: {rule['to']}"
    return f"peer: {rule['source']}, {protocol}{ports}, ALLOW"


# --- resolution for the agents' firewall ----------------------------------------------------------------


class GroupRules(Protocol):
    """What resolution reads of a security group (a :class:`~dockyard.store.ec2.SecurityGroupRecord`)."""

    @property
    def group_id(self) -> str: ...

    @property
    def ingress(self) -> Sequence[Rule]: ...


class AddressedInterface(Protocol):
    """What resolution reads of a network interface (an :class:`~dockyard.store.ec2.InterfaceRecord`)."""

    @property
    def eni_id(self) -> str: ...

    @property
    def private_ip(self) -> str: ...

    @property
    def group_ids(self) -> Sequence[str]: ...


def group_members(interfaces: Iterable[AddressedInterface], group_ids: Iterable[str]) -> dict[str, list[str]]:
    """group id → the addresses of the ``interfaces`` in that group, for each of ``group_ids``."""
    members: dict[str, list[str]] = {group_id: [] for group_id in group_ids}
    for interface in interfaces:
        for group_id in interface.group_ids:
            if group_id in members:
                members[group_id].append(interface.private_ip)
    return members


def referenced_groups(groups: Iterable[GroupRules]) -> set[str]:
    """The groups the ingress rules of ``groups`` name as sources (their members must be looked up)."""
    return {str(rule["source"]) for group in groups for rule in group.ingress if rule.get("kind") == "group"}


def resolved_ingress(
    groups: Iterable[GroupRules], members: Mapping[str, Iterable[str]]
) -> list[dict[str, Any]]:
    """The ingress of an interface in ``groups`` as ``FirewallMessage`` entries ``{protocol, fromPort, toPort,
    cidrs}`` (:mod:`dockyard.core.agent_protocol`): one per (protocol, ports) in order of first appearance,
    its IPv4 sources deduplicated and sorted. A rule naming a group admits that group's ``members``
    (group id → addresses) as ``/32``s; IPv6 sources are left out (the tasks' networks are IPv4); protocol
    ``-1`` carries no ports, ICMP carries its type and code as ``fromPort``/``toPort`` (-1: any); a
    (protocol, ports) left with no source is left out."""
    entries: dict[tuple[str, int | None, int | None], set[ipaddress.IPv4Network]] = {}
    for group in groups:
        for rule in group.ingress:
            protocol = str(rule["protocol"])
            key = (protocol, None, None) if protocol == "-1" else (protocol, rule.get("from"), rule.get("to"))
            sources = entries.setdefault(key, set())
            if rule.get("kind") == "cidr":
                sources.add(ipaddress.IPv4Network(str(rule["source"]), strict=False))
            elif rule.get("kind") == "group":
                for address in members.get(str(rule["source"]), ()):
                    sources.add(ipaddress.IPv4Network(f"{address}/32"))
    resolved: list[dict[str, Any]] = []
    for (protocol, low, high), sources in entries.items():
        if not sources:
            continue
        entry: dict[str, Any] = {"protocol": protocol}
        if low is not None and high is not None:
            entry["fromPort"], entry["toPort"] = int(low), int(high)
        entry["cidrs"] = [str(net) for net in sorted(sources)]
        resolved.append(entry)
    return resolved


def firewall_interfaces(
    interfaces: Iterable[AddressedInterface],
    groups: Mapping[str, GroupRules],
    members: Mapping[str, Iterable[str]],
) -> list[dict[str, Any]]:
    """``FirewallMessage.interfaces`` for ``interfaces``, in interface-id order: each with its address and
    :func:`resolved_ingress` of its groups (looked up in ``groups`` by id; a group not there adds
    nothing)."""
    return [
        {
            "networkInterfaceId": interface.eni_id,
            "privateIPv4Address": interface.private_ip,
            "ingress": resolved_ingress(
                [groups[g] for g in dict.fromkeys(interface.group_ids) if g in groups], members
            ),
        }
        for interface in sorted(interfaces, key=lambda i: i.eni_id)
    ]

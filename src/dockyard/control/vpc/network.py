"""Pure facts and arithmetic of dockyard's VPCs: zones, default CIDRs, ids, addresses, filters.

- Every (account, region) has one default VPC, made on first use. Its addresses are real (each subnet is
  a bridge on the hosts running awsvpc tasks), so CIDRs are unique server-wide: the first default VPC is
  AWS's ``172.31.0.0/16``; later ones (other accounts, other regions) take ``10.<n>.0.0/16``, n = 1, 2, …
- One default subnet per availability zone, ``/20`` blocks in zone order as AWS carves them
  (172.31.0.0/20, 172.31.16.0/20, …).
- A subnet's first four addresses and its last are AWS's reserved ones; interfaces take the lowest free
  address above them.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dockyard.core.errors import ApiError

DEFAULT_VPC_CIDR = "172.31.0.0/16"
MAX_DEFAULT_VPCS = 250
SUBNET_PREFIX = 20
RESERVED_LOW = 4  # network, router, DNS, future use

# Zones per region as AWS has them where it differs from the common three.
_ZONE_COUNTS = {"us-east-1": 6, "us-west-1": 2, "ap-northeast-1": 3, "sa-east-1": 3}
_REGION_ABBREVIATIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "southeast": "se",
    "northwest": "nw",
    "southwest": "sw",
}


class InvalidParameterValueError(ApiError):
    code = "InvalidParameterValue"


def availability_zones(region: str) -> list[str]:
    """The region's zone names: ``us-east-1a`` … ``us-east-1f``."""
    return [region + chr(ord("a") + i) for i in range(_ZONE_COUNTS.get(region, 3))]


def zone_id(zone: str) -> str:
    """``us-east-1a`` → ``use1-az1`` (AWS maps names to ids per account; dockyard keeps them aligned)."""
    region, letter = zone[:-1], zone[-1]
    parts = region.split("-")
    short = parts[0] + "".join(_REGION_ABBREVIATIONS.get(p, p[:1]) for p in parts[1:-1]) + parts[-1]
    return f"{short}-az{ord(letter) - ord('a') + 1}"


def default_vpc_cidr(index: int) -> str:
    """The CIDR of the server's ``index``-th default VPC (0-based)."""
    if index == 0:
        return DEFAULT_VPC_CIDR
    if index > MAX_DEFAULT_VPCS:
        raise ApiError("No address space is left for another default VPC.", code="VpcLimitExceeded")
    return f"10.{index}.0.0/16"


def default_subnet_cidrs(vpc_cidr: str, zones: int) -> list[str]:
    """The first ``zones`` /20 blocks of ``vpc_cidr``."""
    blocks = ipaddress.ip_network(vpc_cidr).subnets(new_prefix=SUBNET_PREFIX)
    return [str(next(blocks)) for _ in range(zones)]


def new_id(prefix: str) -> str:
    """``vpc-0a1b…`` with 17 hex digits, as EC2's long ids."""
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def new_mac() -> str:
    """A locally administered unicast MAC (EC2's ENIs start with 0a/0e/12…)."""
    rest = secrets.token_bytes(5)
    return ":".join(f"{b:02x}" for b in (0x0E, *rest))


def free_address(subnet_cidr: str, used: Iterable[str]) -> str | None:
    """The lowest address an interface may take in the subnet, or None when it is full."""
    network = ipaddress.ip_network(subnet_cidr)
    taken = {ipaddress.ip_address(a) for a in used}
    first = int(network.network_address) + RESERVED_LOW
    last = int(network.broadcast_address) - 1
    for value in range(first, last + 1):
        address = ipaddress.ip_address(value)
        if address not in taken:
            return str(address)
    return None


def available_addresses(subnet_cidr: str, used: int) -> int:
    network = ipaddress.ip_network(subnet_cidr)
    return network.num_addresses - RESERVED_LOW - 1 - used


def private_dns_name(region: str, address: str) -> str:
    """``ip-172-31-5-6.ec2.internal`` in us-east-1, ``ip-….<region>.compute.internal`` elsewhere."""
    host = "ip-" + address.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def valid_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


# --- filters ----------------------------------------------------------------------------------------------

Accessor = Callable[[Any], Sequence[str] | str | None]


def matches(item: Any, filters: Sequence[Mapping[str, Any]], accessors: Mapping[str, Accessor]) -> bool:
    """EC2 filter semantics: every filter must match; within one, any of its values; ``*`` and ``?`` are
    wildcards; ``tag:<key>`` matches a tag's value, ``tag-key`` a key. Unknown names were refused by
    :func:`check_filters`."""
    for spec in filters:
        name = str(spec.get("Name", ""))
        wanted = [str(v) for v in spec.get("Values") or []]
        if name.startswith("tag:"):
            tags = getattr(item, "tags", ())
            have: list[str] = [t["Value"] for t in tags if t["Key"] == name[4:]]
        elif name == "tag-key":
            have = [t["Key"] for t in getattr(item, "tags", ())]
        else:
            value = accessors[name](item)
            have = [] if value is None else [value] if isinstance(value, str) else list(value)
        if not any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted):
            return False
    return True


def check_filters(filters: Sequence[Mapping[str, Any]], accessors: Mapping[str, Accessor]) -> None:
    for spec in filters:
        name = str(spec.get("Name", ""))
        if name not in accessors and not name.startswith("tag:") and name != "tag-key":
            raise InvalidParameterValueError(f"The filter '{name}' is invalid")


def flag(value: bool) -> str:
    """A boolean as filters compare it."""
    return "true" if value else "false"

"""Amazon Resource Names: building and parsing, with the partition and formats AWS uses."""

from __future__ import annotations

from dataclasses import dataclass

PARTITION = "aws"


@dataclass(frozen=True, slots=True)
class Arn:
    service: str
    region: str
    account_id: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{PARTITION}:{self.service}:{self.region}:{self.account_id}:{self.resource}"

    @property
    def resource_type(self) -> str:
        """The part of the resource before the first '/', e.g. ``cluster`` in ``cluster/web``."""
        return self.resource.split("/", 1)[0]


def parse_arn(text: str) -> Arn | None:
    """Return the parts of ``text`` if it is an ARN of the ``aws`` partition, else ``None``."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] != PARTITION:
        return None
    _, _, service, region, account_id, resource = parts
    if not service or not resource:
        return None
    return Arn(service, region, account_id, resource)


def build_arn(service: str, region: str, account_id: str, resource: str) -> str:
    return str(Arn(service, region, account_id, resource))

"""Fargate prices and AWS's billing region codes. Pure.

Defaults are us-east-1's on-demand prices; FARGATE_SPOT is the on-demand price less a configurable
discount (AWS's Spot price moves; dockyard's is fixed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from dockyard.core.errors import ValidationError

X86_64, ARM64 = "X86_64", "ARM64"
Resource = Literal["vCPU", "GB"]

# AWS's billing codes prefixing usage types (USE1-Fargate-vCPU-Hours:perCPU). eu-west-1 keeps its legacy "EU".
REGION_CODES: dict[str, str] = {
    "us-east-1": "USE1",
    "us-east-2": "USE2",
    "us-west-1": "USW1",
    "us-west-2": "USW2",
    "ca-central-1": "CAN1",
    "eu-west-1": "EU",
    "eu-west-2": "EUW2",
    "eu-west-3": "EUW3",
    "eu-central-1": "EUC1",
    "eu-north-1": "EUN1",
    "eu-south-1": "EUS1",
    "ap-northeast-1": "APN1",
    "ap-northeast-2": "APN2",
    "ap-northeast-3": "APN3",
    "ap-southeast-1": "APS1",
    "ap-southeast-2": "APS2",
    "ap-south-1": "APS3",
    "ap-east-1": "APE1",
    "sa-east-1": "SAE1",
    "me-south-1": "MES1",
    "af-south-1": "AFS1",
    "us-gov-west-1": "UGW1",
    "us-gov-east-1": "UGE1",
}


def region_code(region: str) -> str:
    """The billing code of ``region``: AWS's from the table, else area + direction initial + number
    (``me-central-1`` → ``MEC1``), the pattern most codes follow; anything unparseable is upper-cased."""
    known = REGION_CODES.get(region)
    if known is not None:
        return known
    parts = region.split("-")
    if len(parts) == 3 and parts[0].isalpha() and parts[1].isalpha() and parts[2].isdigit():
        return f"{parts[0].upper()}{parts[1][0].upper()}{parts[2]}"
    return region.upper()


@dataclass(frozen=True)
class FargateRates:
    """USD per vCPU-hour and per GB-hour by architecture, and the FARGATE_SPOT discount (0.70 = 70 % off)."""

    x86_vcpu_hour: Decimal = Decimal("0.04048")
    x86_gb_hour: Decimal = Decimal("0.004445")
    arm_vcpu_hour: Decimal = Decimal("0.03238")
    arm_gb_hour: Decimal = Decimal("0.00356")
    spot_discount: Decimal = Decimal("0.70")

    def __post_init__(self) -> None:
        for name in ("x86_vcpu_hour", "x86_gb_hour", "arm_vcpu_hour", "arm_gb_hour"):
            if getattr(self, name) < 0:
                raise ValidationError(f"The Fargate rate {name} cannot be negative.")
        if not Decimal(0) <= self.spot_discount <= Decimal(1):
            raise ValidationError("The FARGATE_SPOT discount must be between 0 and 1.")

    def per_hour(self, resource: Resource, architecture: str, *, spot: bool) -> Decimal:
        """USD per hour of one vCPU or one GB."""
        arm = architecture == ARM64
        if resource == "vCPU":
            rate = self.arm_vcpu_hour if arm else self.x86_vcpu_hour
        else:
            rate = self.arm_gb_hour if arm else self.x86_gb_hour
        return rate * (Decimal(1) - self.spot_discount) if spot else rate


def usage_type(region: str, resource: Resource, architecture: str, *, spot: bool) -> str:
    """AWS's usage type: ``USE1-Fargate-vCPU-Hours:perCPU``, ``USE1-SpotUsage-Fargate-ARM-GB-Hours``..."""
    prefix = region_code(region) + ("-SpotUsage" if spot else "")
    arch = "-ARM" if architecture == ARM64 else ""
    unit = "vCPU-Hours:perCPU" if resource == "vCPU" else "GB-Hours"
    return f"{prefix}-Fargate{arch}-{unit}"

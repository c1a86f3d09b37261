"""Kubernetes resource quantities (``500m``, ``1.5``, ``64Mi``, ``1G``, ``2e3``) as exact numbers. No I/O."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))(?P<suffix>[a-zA-Z]*|[eE][+-]?\d+)$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: str | int | float) -> Decimal:
    """The quantity's value in base units (cores, bytes). Raises ``ValueError`` for anything else."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    number, suffix = Decimal(match["number"]), match["suffix"]
    try:
        if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
            return number * Decimal(10) ** int(suffix[1:])
        return number * _SUFFIXES[suffix]
    except (KeyError, InvalidOperation) as exc:
        raise ValueError(f"unknown quantity suffix in {text!r}") from exc


def ceil_int(value: Decimal) -> int:
    """Rounded up to a whole number, as the API rounds quantities a kernel cannot split."""
    return math.ceil(value)


def milli_cpu(value: str | int | float) -> int:
    """CPU as millicores, rounded up (``0.1`` → 100, ``1`` → 1000, ``250m`` → 250)."""
    return ceil_int(parse_quantity(value) * 1000)


def memory_bytes(value: str | int | float) -> int:
    """Memory as bytes, rounded up (``64Mi`` → 67108864, ``1G`` → 10⁹)."""
    return ceil_int(parse_quantity(value))

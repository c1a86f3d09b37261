"""``resource.Quantity`` parsing (apimachinery ``ParseQuantity``, v1.33), exact and in integers.

A quantity is ``<sign><digits>[.<digits>]<suffix>``: the suffix is a binary SI one (``Ki`` … ``Ei``,
powers of 2), a decimal SI one (``n u m "" k M G T P E``) or a decimal exponent (``e3``, ``E-2``).
apimachinery keeps the value exactly, rounds a non-zero value *up* (away from zero) to the nanounit
and caps its magnitude at 2^63-1; this module keeps the same value as an integer count of nanounits.
``value`` and ``milli_value`` round up as ``Quantity.Value`` / ``MilliValue`` do.

The scanner follows apimachinery's, so the quirks agree: ``"."``, ``"+"`` and ``"1."`` are zero or one,
``"1.G"`` is allowed, ``"K"`` (uppercase, without ``i``) is an unknown suffix, and a value with no digit
at all fails with "unable to parse numeric part" only where apimachinery takes its slow path.
"""

from __future__ import annotations

from fractions import Fraction

from dockyard.control.kube.errors import BadRequestError

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
NUMERIC = "unable to parse numeric part of quantity"
SUFFIX = "unable to parse quantity's suffix"

NANO = 10**9
_MAX_VALUE = 2**63 - 1
_MAX_NANO = _MAX_VALUE * NANO
_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_MAX_INT64_FACTORS = 18


class QuantityError(BadRequestError):
    """A string that is not a quantity; the message is apimachinery's error text."""


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """``parseQuantityString``: (positive, value text, numerator, denominator, suffix)."""
    positive, pos, end = True, 0, len(text)
    if text[:1] in ("-", "+"):
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int]:
    """``quantitySuffixer.interpret``: (base, exponent); the exponent form's value wraps to int32."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix]
    if suffix in _BINARY:
        return 2, _BINARY[suffix]
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if not body or not set(body) <= _DIGITS:
            raise QuantityError(SUFFIX)
        parsed = int(digits)
        if not -(2**63) <= parsed < 2**63:
            raise QuantityError(SUFFIX)
        return 10, (parsed + 2**31) % 2**32 - 2**31
    raise QuantityError(SUFFIX)


def _fast_path(base: int, exponent: int, num: str, denom: str) -> bool:
    """Whether apimachinery parses into an int64 amount (the slow path reads the digits again)."""
    if base == 2:
        if exponent < 0 or denom:
            return False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        return precision >= 0 and int(num) << exponent < 2**63
    return _MAX_INT64_FACTORS - len(num) - len(denom) >= 0 and exponent - len(denom) >= -9


def _round_up_nano(magnitude: Fraction) -> int:
    """Nanounits, rounded up for non-zero values, capped at 2^63-1 units."""
    nano = -((-magnitude.numerator * NANO) // magnitude.denominator)
    return min(nano, _MAX_NANO)


def parse_nano(text: str) -> int:
    """The quantity ``text`` in nanounits (``"100m"`` → 100_000_000); raises :class:`QuantityError`."""
    if not text:
        raise QuantityError(FORMAT_WRONG)
    if text == "0":
        return 0
    positive, value, num, denom, suffix = _split(text)
    base, exponent = _interpret(suffix)
    if not _fast_path(base, exponent, num, denom) and not any(c in _DIGITS for c in value):
        raise QuantityError(NUMERIC)
    mantissa = int(num + denom)
    if mantissa == 0:
        return 0
    if base == 2:
        magnitude = Fraction(mantissa << exponent, 10 ** len(denom))
    else:
        shift = exponent - len(denom)
        if shift + len(str(mantissa)) > 20:  # at least 10^20 units: above the cap
            return _MAX_NANO if positive else -_MAX_NANO
        if shift < -9 - len(str(mantissa)) - 1:  # below one nanounit: rounds up to it
            return 1 if positive else -1
        magnitude = Fraction(mantissa) * Fraction(10) ** shift
    nano = _round_up_nano(magnitude)
    return nano if positive else -nano


def _scaled(nano: int, unit: int) -> int:
    """``nano`` in units of ``unit`` nanounits, rounded away from zero as ``ScaledValue`` does."""
    magnitude = -(-abs(nano) // unit)
    return magnitude if nano >= 0 else -magnitude


def value(text: str) -> int:
    """``Quantity.Value()``: whole units, rounded up (``"1.5"`` → 2, ``"128Mi"`` → 134217728)."""
    return _scaled(parse_nano(text), NANO)


def milli_value(text: str) -> int:
    """``Quantity.MilliValue()``: thousandths, rounded up (``"0.5"`` → 500, ``"100m"`` → 100)."""
    return _scaled(parse_nano(text), NANO // 1000)


def nano_to_value(nano: int) -> int:
    """Whole units of a nanounit sum (requests are summed exactly, then rounded once, as kube does)."""
    return _scaled(nano, NANO)


def nano_to_milli(nano: int) -> int:
    """Thousandths of a nanounit sum."""
    return _scaled(nano, NANO // 1000)

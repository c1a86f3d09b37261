"""Go's ``fmt`` renderings that kube-apiserver's messages embed (``%q`` and ``%v``), so ours read the same.

Clients and people match on these messages (``Invalid value: "app:x"``, ``map[name:a]``), and kubectl
prints them as the server wrote them.
"""

from __future__ import annotations

from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_ESCAPES |= {"\t": "\\t", "\v": "\\v"}


def quote(text: str) -> str:
    """``strconv.Quote``: double quotes, Go's escapes, printable non-ASCII kept as is."""
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def value(item: Any) -> str:
    """``%v`` of a decoded JSON value: ``map[a:1 b:[x y]]`` (keys sorted, as Go prints maps), ``<nil>``."""
    if item is None:
        return "<nil>"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, dict):
        return "map[" + " ".join(f"{key}:{value(item[key])}" for key in sorted(item)) + "]"
    if isinstance(item, list):
        return "[" + " ".join(value(element) for element in item) + "]"
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return str(item)


def string_slice(items: list[str] | tuple[str, ...]) -> str:
    """``%#v`` of a ``[]string``, as field errors show a list of values: ``[]string{"a", "b"}``."""
    return "[]string{" + ", ".join(quote(item) for item in items) + "}"

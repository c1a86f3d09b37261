"""Label keys and values as Kubernetes validates them, with its error texts (apimachinery, v1.33).

A key is an optional prefix and ``/`` and a name. The name is at most 63 characters, alphanumeric at
both ends with ``-``, ``_`` and ``.`` between; the prefix is a lowercase RFC 1123 DNS subdomain (at most
253 characters). A value is empty or follows the name's rules. Each check returns the list of problems
(empty when valid); callers join them with ``"; "`` as kube-apiserver does.
"""

from __future__ import annotations

import re

NAME_MAX_LENGTH = 63
VALUE_MAX_LENGTH = 63
SUBDOMAIN_MAX_LENGTH = 253

_NAME_FORMAT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_NAME = re.compile(_NAME_FORMAT)
_VALUE_FORMAT = f"({_NAME_FORMAT})?"
_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character"
)
_VALUE = re.compile(_VALUE_FORMAT)
_DNS_LABEL_FORMAT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FORMAT = _DNS_LABEL_FORMAT + "(\\." + _DNS_LABEL_FORMAT + ")*"
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character"
)
_SUBDOMAIN = re.compile(_SUBDOMAIN_FORMAT)


def _size(text: str) -> int:
    """Go measures strings in bytes: a non-ASCII name is longer than its character count."""
    return len(text.encode())


def max_length_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(message: str, pattern: str, *examples: str) -> str:
    """Kubernetes' wording for a value its regular expression refuses, examples included."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


def dns_subdomain_errors(text: str) -> list[str]:
    """``IsDNS1123Subdomain``: what is wrong with ``text`` as a lowercase DNS subdomain."""
    errors = []
    if _size(text) > SUBDOMAIN_MAX_LENGTH:
        errors.append(max_length_error(SUBDOMAIN_MAX_LENGTH))
    if not _SUBDOMAIN.fullmatch(text):
        errors.append(regex_error(_SUBDOMAIN_MESSAGE, _SUBDOMAIN_FORMAT, "example.com"))
    return errors


def label_key_errors(key: str) -> list[str]:
    """``IsQualifiedName``: what is wrong with ``key`` as a label key (or any qualified name)."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + regex_error(_NAME_MESSAGE, _NAME_FORMAT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errors = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + message for message in dns_subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif _size(name) > NAME_MAX_LENGTH:
        errors.append("name part " + max_length_error(NAME_MAX_LENGTH))
    if not _NAME.fullmatch(name):
        errors.append("name part " + regex_error(_NAME_MESSAGE, _NAME_FORMAT, "MyName", "my.name", "123-abc"))
    return errors


def label_value_errors(text: str) -> list[str]:
    """``IsValidLabelValue``: what is wrong with ``text`` as a label value."""
    errors = []
    if _size(text) > VALUE_MAX_LENGTH:
        errors.append(max_length_error(VALUE_MAX_LENGTH))
    if not _VALUE.fullmatch(text):
        errors.append(regex_error(_VALUE_MESSAGE, _VALUE_FORMAT, "MyValue", "my_value", "12345"))
    return errors

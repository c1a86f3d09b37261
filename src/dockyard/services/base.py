"""What every service provider shares: operation dispatch by name.

A provider is a class whose public methods are the service's operations, named in snake_case after the
AWS operation (``CreateCluster`` → ``create_cluster``). Each takes the request context and the validated
parameters (a dict shaped like the operation's input) and returns a dict shaped like its output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from dockyard.core.context import RequestContext

Params = Mapping[str, Any]
Result = dict[str, Any]
Operation = Callable[[RequestContext, Params], Result]

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def operation_method_name(operation_name: str) -> str:
    """``DescribeClusters`` → ``describe_clusters``; ``GetCallerIdentity`` → ``get_caller_identity``."""
    return _CAMEL_BOUNDARY.sub("_", operation_name).lower()


class Provider:
    """Base class of service providers; subclasses name the botocore service they implement."""

    service_name: str = ""
    cpu_only_operations: frozenset[str] = frozenset()
    """Operations that do no I/O at all: the gateway runs them on the event loop."""
    store_read_operations: frozenset[str] = frozenset()
    """Operations that only read the store, never write it: the gateway runs them on the event loop when
    the store is local (SQLite), where a read costs less than handing the call to a worker thread."""

    def find_operation(self, operation_name: str) -> Operation | None:
        """The bound method implementing ``operation_name``, or ``None`` if not implemented."""
        method = getattr(self, operation_method_name(operation_name), None)
        return method if callable(method) else None

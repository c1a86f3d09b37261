"""The service models dockyard speaks, loaded once from botocore's own data files.

Everything protocol-related (targets, shapes, error faults) is derived from these models; nothing is
hand-written per operation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import botocore.loaders
from botocore.model import OperationModel, ServiceModel

from dockyard.api.protocol.rest_json_protocol import RestJsonRouter
from dockyard.core.errors import UnknownOperationError

#: The services served by dockyard: the JSON 1.1 ones (ECS, ECR, Logs, Cost Explorer) are addressed by
#: ``X-Amz-Target``, STS (query protocol) and EC2 (ec2 protocol) by ``Action`` and the service the request is
#: signed for, EKS (rest-json) by method and path (its URI templates) and the service it is signed for.
SERVED_SERVICES: tuple[str, ...] = ("ecs", "ecr", "logs", "sts", "ec2", "ce", "eks")


class ServiceCatalog:
    """The loaded botocore models of the served services, with lookups tuned for the request hot path."""

    _default: ClassVar[ServiceCatalog | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, service_names: Iterable[str] = SERVED_SERVICES, *, loader: Any = None) -> None:
        loader = loader if loader is not None else botocore.loaders.create_loader()
        self._services: dict[str, ServiceModel] = {}
        self._faults: dict[str, frozenset[str]] = {}
        self._operation_names: dict[str, frozenset[str]] = {}
        # targetPrefix -> (service, its operation names); resolved targets are memoised in ``_targets``.
        self._prefixes: dict[str, tuple[ServiceModel, frozenset[str]]] = {}
        self._targets: dict[str, tuple[ServiceModel, OperationModel]] = {}
        self._signing_names: dict[str, str] = {}
        self._by_signing_name: dict[str, ServiceModel] = {}
        self._regions = _known_regions(loader.load_data("endpoints"))
        self._routers: dict[str, RestJsonRouter] = {}
        for name in service_names:
            raw = loader.load_service_model(name, "service-2")
            model = ServiceModel(raw, service_name=name)
            self._services[name] = model
            self._faults[name] = _fault_codes(raw["shapes"])
            self._operation_names[name] = frozenset(model.operation_names)
            metadata = raw["metadata"]
            self._signing_names[name] = metadata.get("signingName") or metadata["endpointPrefix"]
            self._by_signing_name.setdefault(self._signing_names[name], model)
            prefix = metadata.get("targetPrefix")
            if prefix:
                self._prefixes[prefix] = (model, self._operation_names[name])
            if model.protocol == "rest-json":
                self._routers[name] = RestJsonRouter(model)

    @classmethod
    def default(cls) -> ServiceCatalog:
        """Return the process-wide catalog, loading the models on first use only."""
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    cls._default = cls()
        return cls._default

    @property
    def service_names(self) -> tuple[str, ...]:
        """The names of the loaded services, in load order."""
        return tuple(self._services)

    @property
    def regions(self) -> frozenset[str]:
        """Every region of every AWS partition botocore knows: the regions a signature may be scoped to."""
        return self._regions

    def signing_name(self, service_name: str) -> str:
        """The service name a SigV4 credential scope must carry for ``service_name`` (``ecr`` for ECR,
        whose endpoint prefix is ``api.ecr``)."""
        return self._signing_names[service_name]

    def signing_name_for_target(self, x_amz_target: str) -> str | None:
        """The signing name of the service an ``X-Amz-Target`` addresses; None for an unknown prefix."""
        entry = self._prefixes.get(x_amz_target.partition(".")[0])
        return None if entry is None else self._signing_names[entry[0].service_name]

    def service_for_signing_name(self, signing_name: str) -> ServiceModel | None:
        """The served service a credential scope's service names (``ec2``, ``sts``); None for any other."""
        return self._by_signing_name.get(signing_name)

    def service(self, name: str) -> ServiceModel:
        """Return the model of a served service; raise UnknownOperationError for any other name."""
        try:
            return self._services[name]
        except KeyError:
            raise UnknownOperationError(f"Service {name!r} is not supported.") from None

    def operation(self, service_name: str, op_name: str) -> OperationModel:
        """Return an operation of a served service; raise UnknownOperationError if it is not modelled."""
        model = self.service(service_name)
        if op_name not in self._operation_names[service_name]:
            raise UnknownOperationError(f"Operation {op_name!r} is not supported by {service_name}.")
        return model.operation_model(op_name)

    def resolve_target(self, x_amz_target: str) -> tuple[ServiceModel, OperationModel]:
        """Map a JSON 1.1 ``X-Amz-Target`` (``Prefix.Operation``) to its service and operation.

        Raises UnknownOperationError, naming the target, when the prefix or the operation is unknown.
        """
        hit = self._targets.get(x_amz_target)
        if hit is not None:
            return hit
        prefix, _, op_name = x_amz_target.partition(".")
        entry = self._prefixes.get(prefix)
        if entry is None or op_name not in entry[1]:
            raise UnknownOperationError(f"Operation {x_amz_target!r} is not recognized.")
        hit = (entry[0], entry[0].operation_model(op_name))
        self._targets[x_amz_target] = hit
        return hit

    def rest_router(self, service_name: str) -> RestJsonRouter | None:
        """The URI-template router of a served rest-json service (EKS); None for other protocols."""
        return self._routers.get(service_name)

    @property
    def rest_path_prefixes(self) -> frozenset[str]:
        """The first path segments the rest-json services' URIs begin with (``clusters``, ``tags``…)."""
        return frozenset(prefix for router in self._routers.values() for prefix in router.first_segments)

    def is_server_fault(self, service_name: str, error_code: str) -> bool:
        """Tell whether a modelled error of the service is a server fault (answered with status 500)."""
        return error_code in self._faults.get(service_name, frozenset())


def _fault_codes(shapes: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Collect the codes of the error shapes marked ``"fault": true`` in a raw model.

    botocore's parsed Shape drops the ``fault`` trait, hence the raw JSON. Both the shape name (the JSON
    protocols' code) and an explicit ``error.code`` (the query protocol's code) are included.
    """
    codes: set[str] = set()
    for name, shape in shapes.items():
        if not shape.get("fault"):
            continue
        codes.add(name)
        explicit = shape.get("error", {}).get("code")
        if explicit:
            codes.add(explicit)
    return frozenset(codes)


def _known_regions(endpoints: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])

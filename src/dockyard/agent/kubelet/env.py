"""A container's environment as the kubelet builds it, and ``$(VAR)`` expansion. No I/O: ConfigMaps and
Secrets come from the caller's :class:`PodResources`.

Kubernetes' order (``kubelet_pods.go: makeEnvironmentVariables``), followed here:

1. ``base`` (what the node adds for every container: the kubelet's service variables);
2. ``envFrom`` in order, each key of the ConfigMap or Secret under its ``prefix`` (keys that are not valid
   variable names are skipped, as the kubelet does);
3. ``env`` in order: a ``value`` is expanded against everything defined before it; ``valueFrom`` reads a
   ConfigMap or Secret key, a field of the pod (``fieldRef``) or a resource of a container
   (``resourceFieldRef``).

A missing ConfigMap, Secret or key that is not ``optional`` raises :class:`ConfigError` with the kubelet's
own message (``configmap "x" not found``); the container then waits with ``CreateContainerConfigError``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from dockyard.agent.kubelet.quantities import ceil_int, parse_quantity

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(?P<key>[^']*)'\]$")

Pod = Mapping[str, Any]


class PodResources(Protocol):
    """Where the kubelet reads the objects a pod refers to (the API client, later). Each returns the whole
    object as the Kubernetes API serves it (``data``; a Secret's values and a ConfigMap's ``binaryData``
    base64), or ``None`` if it does not exist."""

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...


class ConfigError(ValueError):
    """The container cannot be configured yet (reason ``CreateContainerConfigError``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PodFacts:
    """What the node knows of a pod beyond its spec: addresses, and the node's size for resource fields
    of containers without limits (the kubelet answers the node's allocatable then)."""

    pod_ip: str = ""
    host_ip: str = ""
    node_milli_cpu: int = 1000
    node_memory_bytes: int = 2**30


def expand(text: str, defined: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (``third_party/forked/golang/expansion``): ``$(VAR)`` becomes its
    value when ``VAR`` is defined and stays as written otherwise; ``$$`` is one ``$``; any other ``$`` —
    also an unclosed ``$(`` — is kept."""
    out: list[str] = []
    checkpoint, cursor = 0, 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            advance = 1
            if following == "$":
                out.append("$")
            elif following == "(":
                closer = text.find(")", cursor + 2)
                if closer == -1:
                    out.append("$(")
                else:
                    name = text[cursor + 2 : closer]
                    out.append(defined.get(name, f"$({name})"))
                    advance = closer - cursor
            else:
                out.append("$" + following)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def object_data(obj: Mapping[str, Any], *, secret: bool) -> dict[str, bytes]:
    """A ConfigMap's ``data`` (text) and ``binaryData`` (base64), or a Secret's ``data`` (base64): bytes."""
    found: dict[str, bytes] = {}
    if secret:
        for key, value in (obj.get("data") or {}).items():
            found[str(key)] = base64.b64decode(str(value))
        for key, value in (obj.get("stringData") or {}).items():  # only before the API server merges it
            found[str(key)] = str(value).encode()
        return found
    for key, value in (obj.get("data") or {}).items():
        found[str(key)] = str(value).encode()
    for key, value in (obj.get("binaryData") or {}).items():
        found[str(key)] = base64.b64decode(str(value))
    return found


def field_value(pod: Pod, path: str, facts: PodFacts) -> str:
    """A ``fieldRef`` (downward API) value. Raises :class:`ConfigError` for a path the API does not offer."""
    metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace", "default"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": facts.pod_ip,
        "status.podIPs": facts.pod_ip,
        "status.hostIP": facts.host_ip,
        "status.hostIPs": facts.host_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    match = _LABEL_FIELD.match(path)
    if match is not None:
        return str((metadata.get(match[1]) or {}).get(match["key"], ""))
    if path in ("metadata.labels", "metadata.annotations"):
        values = metadata.get(path.split(".")[1]) or {}
        return "\n".join(f'{key}="{value}"' for key, value in sorted(values.items()))
    raise ConfigError(f'unsupported fieldPath: "{path}"')


def resource_value(pod: Pod, container: Mapping[str, Any], ref: Mapping[str, Any], facts: PodFacts) -> str:
    """A ``resourceFieldRef`` value: ``limits.cpu``, ``requests.memory``… of the named (or this) container,
    divided by ``divisor`` (default 1) and rounded up; an unset limit reads as the node's allocatable."""
    target = container
    if ref.get("containerName"):
        every = [*(pod["spec"].get("initContainers") or ()), *pod["spec"].get("containers", ())]
        target = next((c for c in every if c.get("name") == ref["containerName"]), container)
    resource = str(ref.get("resource", ""))
    section, _, kind = resource.partition(".")
    if section not in ("limits", "requests") or kind not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f"unsupported container resource: {resource!r}")
    resources = target.get("resources") or {}
    quantity = (resources.get(section) or {}).get(kind)
    if quantity is None and section == "requests":
        quantity = (resources.get("limits") or {}).get(kind)  # the API defaults requests to limits
    if quantity is None:
        node = {"cpu": Decimal(facts.node_milli_cpu) / 1000, "memory": Decimal(facts.node_memory_bytes)}
        value = node.get(kind, Decimal(0)) if section == "limits" else Decimal(0)
    else:
        value = parse_quantity(quantity)
    return str(ceil_int(value / parse_quantity(ref.get("divisor") or "1")))


def container_env(
    pod: Pod,
    container: Mapping[str, Any],
    resources: PodResources,
    facts: PodFacts,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment, in definition order. Raises :class:`ConfigError`."""
    namespace = str(pod["metadata"].get("namespace", "default"))
    env: dict[str, str] = dict(base or {})
    for source in container.get("envFrom") or ():
        env.update(_env_from(namespace, source, resources))
    for var in container.get("env") or ():
        name = str(var["name"])
        if "valueFrom" in var:
            value = _value_from(pod, container, namespace, var["valueFrom"], resources, facts)
            if value is None:
                continue
            env[name] = value
        else:
            env[name] = expand(str(var.get("value", "")), env)
    return env


def _env_from(namespace: str, source: Mapping[str, Any], resources: PodResources) -> dict[str, str]:
    prefix = str(source.get("prefix") or "")
    if "configMapRef" in source:
        ref, kind, obj = source["configMapRef"], "configmap", None
        obj = resources.config_map(namespace, str(ref.get("name", "")))
    elif "secretRef" in source:
        ref, kind = source["secretRef"], "secret"
        obj = resources.secret(namespace, str(ref.get("name", "")))
    else:
        return {}
    if obj is None:
        if ref.get("optional"):
            return {}
        raise ConfigError(f'{kind} "{ref.get("name", "")}" not found')
    data = object_data(obj, secret=kind == "secret")
    named = {prefix + key: value.decode("utf-8", "replace") for key, value in data.items()}
    return {key: value for key, value in named.items() if _ENV_NAME.match(key)}


def _value_from(
    pod: Pod,
    container: Mapping[str, Any],
    namespace: str,
    source: Mapping[str, Any],
    resources: PodResources,
    facts: PodFacts,
) -> str | None:
    if "fieldRef" in source:
        return field_value(pod, str(source["fieldRef"].get("fieldPath", "")), facts)
    if "resourceFieldRef" in source:
        return resource_value(pod, container, source["resourceFieldRef"], facts)
    if "configMapKeyRef" in source:
        return _key_ref(namespace, source["configMapKeyRef"], resources, secret=False)
    if "secretKeyRef" in source:
        return _key_ref(namespace, source["secretKeyRef"], resources, secret=True)
    raise ConfigError("unsupported valueFrom: " + ", ".join(sorted(source)))


def _key_ref(namespace: str, ref: Mapping[str, Any], resources: PodResources, *, secret: bool) -> str | None:
    name, key, optional = str(ref.get("name", "")), str(ref.get("key", "")), bool(ref.get("optional"))
    obj = resources.secret(namespace, name) if secret else resources.config_map(namespace, name)
    kind = "secret" if secret else "configmap"
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind} "{name}" not found')
    data = object_data(obj, secret=secret)
    if key not in data:
        if optional:
            return None
        title = "Secret" if secret else "ConfigMap"
        raise ConfigError(f"couldn't find key {key} in {title} {namespace}/{name}")
    return data[key].decode("utf-8", "replace")


def expand_all(values: Sequence[Any] | None, env: Mapping[str, str]) -> tuple[str, ...] | None:
    """``command`` or ``args`` with ``$(VAR)`` expanded against the container's environment."""
    return None if values is None else tuple(expand(str(v), env) for v in values)

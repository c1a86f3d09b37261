"""Where a pod's logs and exec streams are served: its container, its node's kubelet, and the kubelet
request — kube-apiserver's ``LogLocation`` / ``ExecLocation`` (``pkg/registry/core/pod/strategy.go``)
with their error texts. Pure: the pod and node objects are inputs.

```
pod ─ container: named → must be one of the pod's (init and ephemeral included), else 400
      not named → its only container; several → 400 "a container name must be specified …"
    ─ spec.nodeName: none → logs: an empty answer; exec: 400 "pod X does not have a host assigned"
node ─ status.addresses (InternalIP first) + status.daemonEndpoints.kubeletEndpoint.Port (default 10250)
    ─▶ https://<address>:<port>/containerLogs|exec/<ns>/<pod>/<container>?<kubelet parameters>
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from dockyard.control.kube.errors import BadRequestError, KubeError

DEFAULT_KUBELET_PORT = 10250
PREFERRED_ADDRESS_TYPES = ("InternalIP", "Hostname", "InternalDNS", "ExternalDNS", "ExternalIP")
_TRUE = ("1", "true")


@dataclass(frozen=True, slots=True)
class KubeletLocation:
    host: str
    port: int
    path: str
    """``/containerLogs/<ns>/<pod>/<container>`` or ``/exec/…``, escaped."""
    query: str

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, scheme: str = "https") -> str:
        return f"{scheme}://{self.authority}{self.path}" + (f"?{self.query}" if self.query else "")


def node_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _requested_or_only(pod: Mapping[str, Any], requested: str) -> str | None:
    """The requested container (checked), else the pod's only one; None when it has several to choose
    from. Raises BadRequestError."""
    if requested:
        _check_named(pod, requested)
        return requested
    containers = _names((pod.get("spec") or {}).get("containers"))
    if len(containers) == 1:
        return containers[0]
    if not containers:
        raise BadRequestError(f"a container name must be specified for pod {_pod_name(pod)}")
    return None


def log_container(pod: Mapping[str, Any], requested: str) -> str:
    """The container ``kubectl logs`` reads (``validateContainer``). Raises BadRequestError."""
    chosen = _requested_or_only(pod, requested)
    if chosen is not None:
        return chosen
    spec = pod.get("spec") or {}
    every = [*_names(spec.get("initContainers")), *_names(spec.get("containers"))]
    every += _names(spec.get("ephemeralContainers"))
    raise BadRequestError(
        f"a container name must be specified for pod {_pod_name(pod)}, choose one of: {_go(every)}"
    )


def exec_container(pod: Mapping[str, Any], requested: str) -> str:
    """The container ``kubectl exec`` runs in (``streamLocation``). Raises BadRequestError."""
    chosen = _requested_or_only(pod, requested)
    if chosen is not None:
        return chosen
    spec = pod.get("spec") or {}
    containers = _names(spec.get("containers"))
    message = f"a container name must be specified for pod {_pod_name(pod)}, choose one of: {_go(containers)}"
    init = _names(spec.get("initContainers"))
    if init:
        message += f" or one of the init containers: {_go(init)}"
    raise BadRequestError(message)


def kubelet_endpoint(node: Mapping[str, Any]) -> tuple[str, int]:
    """The node's kubelet address and port. Raises KubeError (500) when the node has no address."""
    status = node.get("status") or {}
    addresses = [a for a in status.get("addresses") or () if isinstance(a, Mapping)]
    for kind in PREFERRED_ADDRESS_TYPES:
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
                return str(address["address"]), int(port) if port else DEFAULT_KUBELET_PORT
    known = " ".join(f"{{{a.get('type', '')} {a.get('address', '')}}}" for a in addresses)
    raise KubeError(f"no preferred addresses found; known addresses: [{known}]", reason="", code=500)


def log_location(
    pod: Mapping[str, Any], node: Mapping[str, Any], container: str, query: Mapping[str, Sequence[str]]
) -> KubeletLocation:
    """The kubelet request of ``GET …/pods/<name>/log`` with ``query`` (PodLogOptions)."""
    params: list[tuple[str, str]] = []
    for flag in ("follow", "previous", "timestamps"):
        if _first(query, flag).lower() in _TRUE:
            params.append((flag, "true"))
    for number in ("sinceSeconds", "tailLines", "limitBytes"):
        value = _first(query, number)
        if value:
            params.append((number, str(_integer(number, value))))
    if _first(query, "sinceTime"):
        params.append(("sinceTime", _first(query, "sinceTime")))
    return _location(pod, node, "containerLogs", container, params)


@dataclass(frozen=True, slots=True)
class ExecRequest:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def exec_request(query: Mapping[str, Sequence[str]]) -> ExecRequest:
    """The PodExecOptions of ``…/pods/<name>/exec?command=…&stdin=true…``. Raises BadRequestError."""
    command = tuple(query.get("command") or ())
    request = ExecRequest(
        command,
        _first(query, "stdin").lower() in _TRUE,
        _first(query, "stdout").lower() in _TRUE,
        _first(query, "stderr").lower() in _TRUE,
        _first(query, "tty").lower() in _TRUE,
    )
    if not (request.stdin or request.stdout or request.stderr):
        raise BadRequestError("you must specify at least 1 of stdin, stdout, stderr")
    if not command:
        raise BadRequestError("you must specify at least one command for the container")
    return request


def exec_location(
    pod: Mapping[str, Any], node: Mapping[str, Any], container: str, request: ExecRequest
) -> KubeletLocation:
    """The kubelet request of an exec (``streamParams``: input/output/error/tty as ``1``)."""
    params = [("command", part) for part in request.command]
    for flag, on in (
        ("input", request.stdin),
        ("output", request.stdout),
        ("error", request.stderr),
        ("tty", request.tty),
    ):
        if on:
            params.append((flag, "1"))
    return _location(pod, node, "exec", container, params)


def _location(
    pod: Mapping[str, Any],
    node: Mapping[str, Any],
    endpoint: str,
    container: str,
    params: list[tuple[str, str]],
) -> KubeletLocation:
    host, port = kubelet_endpoint(node)
    metadata = pod.get("metadata") or {}
    parts = (endpoint, metadata.get("namespace") or "default", metadata.get("name") or "", container)
    path = "/" + "/".join(quote(str(p), safe="") for p in parts)
    return KubeletLocation(host, port, path, urlencode(params))


def _check_named(pod: Mapping[str, Any], container: str) -> None:
    spec = pod.get("spec") or {}
    every = {
        *_names(spec.get("containers")),
        *_names(spec.get("initContainers")),
        *_names(spec.get("ephemeralContainers")),
    }
    if container not in every:
        raise BadRequestError(f"container {container} is not valid for pod {_pod_name(pod)}")


def _names(containers: Any) -> list[str]:
    return [str(c.get("name", "")) for c in containers or () if isinstance(c, Mapping)]


def _pod_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name", ""))


def _go(items: Sequence[str]) -> str:
    """Go's ``%s`` of a ``[]string``."""
    return "[" + " ".join(items) + "]"


def _first(query: Mapping[str, Sequence[str]], name: str) -> str:
    values = query.get(name) or ()
    return str(values[0]) if values else ""


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadRequestError(f"invalid value for {name}: {value!r}") from None

"""Pure translation of a Pod (the API's JSON, bound to this node) into the containers that run it. No I/O.

- One pause container per pod holds its network namespace: attached to the caller's Docker network (the
  pod's IP is its address there), host name = the pod's name, IPC namespace shareable, publishing every
  ``hostPort``. The pod's containers join it (``container:<pause>`` for network and IPC; Docker gives a
  joining container the owner's host name).
- Labels name cluster, node, namespace, pod name, pod uid, container name and restart count, so an agent
  finds its containers again after a restart, and two agents sharing one engine (one node each) never list
  each other's: every query carries the cluster and node labels.
- ``command`` replaces the image's ENTRYPOINT and ``args`` its CMD, as Kubernetes: command only → the image's
  CMD is dropped; args only → the image's ENTRYPOINT with these args; both are ``$(VAR)``-expanded.
- Resources: ``limits.cpu`` → a CPU quota (NanoCpus), ``requests.cpu`` → CPU shares (millicores * 1024 /
  1000, at least 2, as the kubelet), ``limits.memory`` → the hard memory limit.
- ``securityContext``: ``runAsUser``/``runAsGroup`` (the container's over the pod's), ``privileged``,
  ``readOnlyRootFilesystem``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dockyard.agent.docker_api import split_reference
from dockyard.agent.kubelet.env import expand_all
from dockyard.agent.kubelet.quantities import memory_bytes, milli_cpu
from dockyard.agent.runtime import Bind, ContainerSpec, NetworkAttachment, PortBinding, PortProtocol

LABEL_CLUSTER = "dockyard.kube.cluster"
LABEL_NODE = "dockyard.kube.node"
LABEL_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER = "io.kubernetes.container.name"
LABEL_RESTART_COUNT = "io.kubernetes.container.restartCount"
LABEL_KIND = "dockyard.kube.container-kind"
SANDBOX_CONTAINER = "POD"
"""The container-name label of a pod's pause container (dockershim's name for it)."""

ContainerKind = Literal["sandbox", "init", "app"]
MIN_CPU_SHARES = 2
DEFAULT_GRACE_S = 30
SANDBOX_STOP_TIMEOUT_S = 1

Pod = Mapping[str, Any]


@dataclass(frozen=True)
class Node:
    """Which node this agent is: every container it makes carries these labels."""

    cluster: str
    name: str

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_CLUSTER: self.cluster, LABEL_NODE: self.name}


def uid_of(pod: Pod) -> str:
    return str(pod["metadata"]["uid"])


def pod_key(pod: Pod) -> str:
    """``<name>_<namespace>(<uid>)``, as the kubelet names a pod in its messages."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', 'default')}({meta['uid']})"


def grace_period_s(pod: Pod) -> int:
    value = pod["spec"].get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE_S if value is None else int(value)


def restart_policy(pod: Pod) -> str:
    return str(pod["spec"].get("restartPolicy") or "Always")


def should_restart(policy: str, exit_code: int) -> bool:
    """Whether an exited container is started again under the pod's ``restartPolicy``."""
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def pull_policy(container: Mapping[str, Any]) -> str:
    """``imagePullPolicy``, defaulted as the API does: ``Always`` for ``:latest`` or no tag, else
    ``IfNotPresent``."""
    if container.get("imagePullPolicy"):
        return str(container["imagePullPolicy"])
    image = str(container["image"])
    _, tag = split_reference(image)
    return "IfNotPresent" if "@" in image or (tag != "latest" and tag) else "Always"


def container_labels(
    node: Node, pod: Pod, name: str, kind: ContainerKind, restart_count: int
) -> dict[str, str]:
    meta = pod["metadata"]
    return {
        **node.labels,
        LABEL_NAMESPACE: str(meta.get("namespace", "default")),
        LABEL_POD_NAME: str(meta["name"]),
        LABEL_POD_UID: str(meta["uid"]),
        LABEL_CONTAINER: name,
        LABEL_RESTART_COUNT: str(restart_count),
        LABEL_KIND: kind,
    }


def docker_name(pod: Pod, container: str, restart_count: int) -> str:
    """``k8s_<container>_<pod>_<namespace>_<uid>_<restart count>`` (dockershim's scheme)."""
    meta = pod["metadata"]
    return f"k8s_{container}_{meta['name']}_{meta.get('namespace', 'default')}_{meta['uid']}_{restart_count}"


def host_ports(pod: Pod) -> tuple[PortBinding, ...]:
    """Every ``hostPort`` of the pod's containers: published by its pause container."""
    bindings: list[PortBinding] = []
    for container in pod["spec"].get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("hostPort"):
                protocol: PortProtocol = "udp" if str(port.get("protocol", "TCP")).upper() == "UDP" else "tcp"
                bindings.append(
                    PortBinding(
                        int(port["containerPort"]),
                        protocol,
                        int(port["hostPort"]),
                        str(port.get("hostIP", "")),
                    )
                )
    return tuple(bindings)


def sandbox_spec(node: Node, pod: Pod, network: str, attempt: int, pause_image: str) -> ContainerSpec:
    """The pod's pause container."""
    return ContainerSpec(
        name=docker_name(pod, SANDBOX_CONTAINER, attempt),
        image=pause_image,
        labels=container_labels(node, pod, SANDBOX_CONTAINER, "sandbox", attempt),
        network=NetworkAttachment(network),
        hostname=str(pod["metadata"]["name"])[:63],
        ipc_mode="shareable",
        port_bindings=host_ports(pod),
        stop_timeout_s=SANDBOX_STOP_TIMEOUT_S,
        runtime="runc",
    )


def entrypoint_and_cmd(
    container: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(Docker Entrypoint, Docker Cmd): ``None`` keeps the image's. ``command`` without ``args`` sends an
    empty Cmd, so the image's CMD is not appended (Docker drops it once Entrypoint is set anyway)."""
    command = expand_all(container.get("command"), env)
    args = expand_all(container.get("args"), env)
    if command is not None:
        return command, args if args is not None else ()
    return None, args


def _user(pod: Pod, container: Mapping[str, Any]) -> str | None:
    pod_context = pod["spec"].get("securityContext") or {}
    context = container.get("securityContext") or {}
    uid = context.get("runAsUser", pod_context.get("runAsUser"))
    gid = context.get("runAsGroup", pod_context.get("runAsGroup"))
    if uid is None:
        return None if gid is None else f"0:{gid}"
    return f"{uid}:{gid}" if gid is not None else str(uid)


def cpu_shares(requests: Mapping[str, Any], limits: Mapping[str, Any]) -> int:
    """The kubelet's ``MilliCPUToShares``; an unset request defaults to the limit, as the API does."""
    request = requests.get("cpu", limits.get("cpu"))
    if request is None:
        return MIN_CPU_SHARES
    return max(MIN_CPU_SHARES, milli_cpu(request) * 1024 // 1000)


def container_spec(
    node: Node,
    pod: Pod,
    container: Mapping[str, Any],
    kind: ContainerKind,
    restart_count: int,
    sandbox_id: str,
    env: Mapping[str, str],
    binds: Sequence[Bind],
) -> ContainerSpec:
    """One of the pod's containers (init or app), joining ``sandbox_id``'s namespaces."""
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    context = container.get("securityContext") or {}
    entrypoint, command = entrypoint_and_cmd(container, env)
    name = str(container["name"])
    return ContainerSpec(
        name=docker_name(pod, name, restart_count),
        image=str(container["image"]),
        entrypoint=entrypoint,
        command=command,
        env=dict(env),
        working_dir=container.get("workingDir") or None,
        user=_user(pod, container),
        labels=container_labels(node, pod, name, kind, restart_count),
        cpu_shares=cpu_shares(requests, limits),
        nano_cpus=milli_cpu(limits["cpu"]) * 1_000_000 if "cpu" in limits else None,
        memory_bytes=memory_bytes(limits["memory"]) if "memory" in limits else None,
        network_container=sandbox_id,
        ipc_mode=f"container:{sandbox_id}",
        binds=tuple(binds),
        readonly_rootfs=bool(context.get("readOnlyRootFilesystem")),
        privileged=bool(context.get("privileged")),
        stop_timeout_s=grace_period_s(pod),
    )


def go_duration(seconds: float) -> str:
    """A duration as Go prints it (``10s``, ``1m20s``, ``5m0s``), for the kubelet's back-off messages."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{rest}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{rest}s"

"""A pod's volumes and a container's ``volumeMounts`` as host paths and binds. Pure: what to write is
returned as data; :mod:`dockyard.agent.kubelet.pod_dirs` writes it.

- ``emptyDir``: a directory of the pod's own (mode 0777, as the kubelet makes it), removed with the pod.
  ``medium: Memory`` is a directory on disk too: a tmpfs shared by several containers needs a mount on
  the host, which the agent (not root) cannot make; ``sizeLimit`` is not enforced.
- ``configMap`` / ``secret``: a directory holding one file per key (or per ``items`` entry, at its
  ``path``, with its ``mode``), file mode ``defaultMode`` (0644 for both, as Kubernetes); missing and not
  ``optional``: :class:`MountError` (the kubelet's ``MountVolume.SetUp failed``; the pod keeps waiting in
  ContainerCreating); mounted read-only.
- ``projected``: configMap, secret and downwardAPI sources into one directory; ``serviceAccountToken``
  from the caller's token source when there is one (none: the file is left out).
- ``downwardAPI``: ``fieldRef`` items as files.
- ``hostPath``: the host path itself (``DirectoryOrCreate`` creates it).
- A mount's ``subPath`` binds that entry of the volume instead of its root; ``readOnly`` binds read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from dockyard.agent.kubelet.env import ConfigError, Pod, PodFacts, PodResources, field_value, object_data
from dockyard.agent.runtime import Bind

DEFAULT_MODE = 0o644
EMPTY_DIR_MODE = 0o777
TokenSource = Callable[[str, str, str, int], str | None]
"""``(namespace, service account, audience, expiration seconds)`` → a token, or ``None``."""


class MountError(ConfigError):
    """A volume cannot be set up yet (its ConfigMap or Secret is missing)."""


@dataclass(frozen=True)
class PlannedVolume:
    """One volume on the host: ``path`` (under the pod's directory unless it is a hostPath), and for
    volumes made of files, every file (relative path → content, mode)."""

    name: str
    kind: str
    path: str
    files: Mapping[str, tuple[bytes, int]] | None = None
    read_only: bool = False
    directory_mode: int = 0o755
    owned: bool = True
    """Inside the pod's directory (removed with it); a hostPath is not."""
    create: bool = True
    """Whether the directory is made if it is missing."""
    sub_paths: tuple[str, ...] = field(default_factory=tuple)


def plan_volumes(
    pod: Pod, resources: PodResources, facts: PodFacts, volume_root: str, token: TokenSource | None = None
) -> dict[str, PlannedVolume]:
    """Every volume of the pod by name. Raises :class:`MountError`."""
    namespace = str(pod["metadata"].get("namespace", "default"))
    planned: dict[str, PlannedVolume] = {}
    for volume in pod["spec"].get("volumes") or ():
        name = str(volume["name"])
        planned[name] = _plan(pod, namespace, name, volume, resources, facts, volume_root, token)
    return planned


def _plan(
    pod: Pod,
    namespace: str,
    name: str,
    volume: Mapping[str, Any],
    resources: PodResources,
    facts: PodFacts,
    root: str,
    token: TokenSource | None,
) -> PlannedVolume:
    if "hostPath" in volume:
        source = volume["hostPath"]
        creates = source.get("type") in ("DirectoryOrCreate",)
        return PlannedVolume(name, "hostPath", str(source["path"]), owned=False, create=creates)
    if "configMap" in volume or "secret" in volume:
        kind = "configMap" if "configMap" in volume else "secret"
        source = volume[kind]
        files = _object_files(
            namespace, kind, source, resources, int(source.get("defaultMode", DEFAULT_MODE))
        )
        return PlannedVolume(name, kind, f"{root}/{kind}/{name}", files or {}, read_only=True)
    if "projected" in volume:
        files = _projected(pod, namespace, volume["projected"], resources, facts, token)
        return PlannedVolume(name, "projected", f"{root}/projected/{name}", files, read_only=True)
    if "downwardAPI" in volume:
        source = volume["downwardAPI"]
        files = _downward(pod, source, facts, int(source.get("defaultMode", DEFAULT_MODE)))
        return PlannedVolume(name, "downwardAPI", f"{root}/downward-api/{name}", files, read_only=True)
    # emptyDir, and any type this node does not implement, which behaves like one.
    return PlannedVolume(name, "emptyDir", f"{root}/empty-dir/{name}", directory_mode=EMPTY_DIR_MODE)


def _object_files(
    namespace: str, kind: str, source: Mapping[str, Any], resources: PodResources, default_mode: int
) -> dict[str, tuple[bytes, int]] | None:
    object_name = str(source.get("name") or source.get("secretName") or "")
    secret = kind == "secret"
    obj = resources.secret(namespace, object_name) if secret else resources.config_map(namespace, object_name)
    if obj is None:
        if source.get("optional"):
            return None
        raise MountError(f'{"secret" if secret else "configmap"} "{object_name}" not found')
    data = object_data(obj, secret=secret)
    items = source.get("items")
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files: dict[str, tuple[bytes, int]] = {}
    for item in items:
        key = str(item["key"])
        if key not in data:
            if source.get("optional"):
                continue
            title = "secret" if secret else "configmap"
            raise MountError(f"{title} references non-existent {'secret' if secret else 'config'} key: {key}")
        files[_relative(str(item.get("path") or key))] = (data[key], int(item.get("mode", default_mode)))
    return files


def _downward(
    pod: Pod, source: Mapping[str, Any], facts: PodFacts, mode: int
) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    for item in source.get("items") or ():
        if "fieldRef" in item:
            value = field_value(pod, str(item["fieldRef"].get("fieldPath", "")), facts)
            files[_relative(str(item["path"]))] = (value.encode(), int(item.get("mode", mode)))
    return files


def _projected(
    pod: Pod,
    namespace: str,
    source: Mapping[str, Any],
    resources: PodResources,
    facts: PodFacts,
    token: TokenSource | None,
) -> dict[str, tuple[bytes, int]]:
    mode = int(source.get("defaultMode", DEFAULT_MODE))
    files: dict[str, tuple[bytes, int]] = {}
    for entry in source.get("sources") or ():
        if "configMap" in entry or "secret" in entry:
            kind = "configMap" if "configMap" in entry else "secret"
            files.update(_object_files(namespace, kind, entry[kind], resources, mode) or {})
        elif "downwardAPI" in entry:
            files.update(_downward(pod, entry["downwardAPI"], facts, mode))
        elif "serviceAccountToken" in entry and token is not None:
            spec = entry["serviceAccountToken"]
            account = str(pod["spec"].get("serviceAccountName") or "default")
            value = token(
                namespace, account, str(spec.get("audience") or ""), int(spec.get("expirationSeconds", 3607))
            )
            if value is not None:
                files[_relative(str(spec.get("path") or "token"))] = (value.encode(), mode)
    return files


def _relative(path: str) -> str:
    """A volume file's path, refused if it leaves the volume (the API validates this too)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise MountError(f"invalid path in volume: {path!r}")
    return str(pure)


def container_binds(container: Mapping[str, Any], volumes: Mapping[str, PlannedVolume]) -> tuple[Bind, ...]:
    """The container's ``volumeMounts`` as binds. Raises :class:`ConfigError` for an unknown volume."""
    binds: list[Bind] = []
    for mount in container.get("volumeMounts") or ():
        name = str(mount["name"])
        volume = volumes.get(name)
        if volume is None:
            raise ConfigError(f'cannot find volume "{name}" to mount into container "{container["name"]}"')
        source = volume.path
        if mount.get("subPath"):
            source = f"{volume.path}/{_relative(str(mount['subPath']))}"
        read_only = bool(mount.get("readOnly")) or volume.read_only
        binds.append(Bind(source, str(mount["mountPath"]), read_only=read_only))
    return tuple(binds)

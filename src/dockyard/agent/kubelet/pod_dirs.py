"""A pod's directory on the host: ``<state dir>/pods/<uid>/volumes/…``, written from the volume plan.

Files are replaced atomically (written beside, then renamed) and only when their content or mode changed,
so a resync every second costs reads, not writes; files a ConfigMap no longer has are removed. A container
that mounts a whole configMap volume sees updates; one that mounts a ``subPath`` of it keeps the file it
started with (the bind holds the old inode), as in Kubernetes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from dockyard.agent.kubelet.volumes import PlannedVolume
from dockyard.agent.runtime import Bind


def pod_dir(state_dir: Path, uid: str) -> Path:
    return state_dir / "pods" / uid


def volume_root(state_dir: Path, uid: str) -> str:
    return str(pod_dir(state_dir, uid) / "volumes")


def write_volumes(volumes: Iterable[PlannedVolume]) -> None:
    """Make every volume's directory and files as planned."""
    for volume in volumes:
        root = Path(volume.path)
        if volume.create and not root.exists():
            root.mkdir(parents=True, exist_ok=True)
            root.chmod(volume.directory_mode)  # mkdir's mode is narrowed by the umask
        if volume.files is not None:
            _sync_files(root, volume.files)


def _sync_files(root: Path, files: Mapping[str, tuple[bytes, int]]) -> None:
    wanted = {root / relative for relative in files}
    for relative, (content, mode) in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_bytes() == content and (target.stat().st_mode & 0o7777) == mode:
            continue
        staged = target.with_name(f".{target.name}.tmp")
        staged.write_bytes(content)
        staged.chmod(mode)
        staged.replace(target)
    for existing in root.rglob("*"):
        if existing.is_file() and existing not in wanted:
            existing.unlink()


def ensure_sub_paths(binds: Iterable[Bind], volumes: Iterable[PlannedVolume]) -> None:
    """Create the ``subPath`` directories of directory volumes (emptyDir, hostPath) a bind names, as the
    kubelet does; a subPath of a file volume must exist already."""
    directories = [v for v in volumes if v.files is None]
    for bind in binds:
        for volume in directories:
            source = Path(bind.source)
            if bind.source.startswith(volume.path + "/") and not source.exists():
                source.mkdir(parents=True, exist_ok=True)
                source.chmod(volume.directory_mode)


def remove_pod_dir(state_dir: Path, uid: str) -> None:
    shutil.rmtree(pod_dir(state_dir, uid), ignore_errors=True)

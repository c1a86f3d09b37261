"""Test images built from scratch: Debian's static busybox in a one-layer image, no Docker Hub needed."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "httpd", "nc", "echo", "cat", "sleep", "wget", "ls")


def busybox_rootfs_tar(extra_files: dict[str, bytes] | None = None) -> bytes:
    """A root filesystem tarball: /bin/busybox, its applet links, and ``extra_files`` (path → content)."""
    if not BUSYBOX.exists():
        raise RuntimeError("busybox-static is not installed: scripts/setup installs it")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for directory in ("bin", "tmp", "www"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for path, content in (extra_files or {}).items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def docker_import_busybox(reference: str, *, marker: str = "") -> None:
    """Create the local Docker image ``reference`` from the busybox rootfs (``marker`` makes it unique)."""
    tar = busybox_rootfs_tar({"/www/index.html": f"hello from dockyard {marker}\n".encode()})
    subprocess.run(
        ["docker", "import", "--change", 'CMD ["/bin/sh"]', "-", reference],
        input=tar,
        check=True,
        capture_output=True,
    )


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0

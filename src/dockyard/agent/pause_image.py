"""The pause image: the one-file image of an awsvpc task's pause container, built by the agent itself.

An awsvpc task's network namespace belongs to a container that does nothing (ECS's ``~internal~ecs~pause``);
the task's containers join it. No registry may be reachable, so the agent makes the image locally with
Docker's image import: a tarball holding one file, ``/pause``, a 129-byte static x86_64 ELF executable that
loops on the ``pause`` system call (a signal without a handler ends it: SIGTERM as PID 1 is ignored, so a
stop ends it with SIGKILL). No I/O here but through the runtime.
"""

from __future__ import annotations

import io
import platform
import struct
import tarfile

from dockyard.agent.runtime import ContainerRuntime, RuntimeUnavailable

PAUSE_IMAGE = "dockyard/pause:1"
PAUSE_CHANGES = ('ENTRYPOINT ["/pause"]',)
_X86_64 = frozenset({"x86_64", "amd64"})


class UnsupportedPlatform(RuntimeUnavailable):
    """The pause image cannot be built for this host's architecture (so awsvpc tasks cannot run here)."""


# mov eax, 34 (pause); syscall; jmp back to the mov.
_CODE = bytes.fromhex("b8220000000f05ebf7")
_BASE, _EHSIZE, _PHSIZE = 0x400000, 64, 56


def pause_elf() -> bytes:
    """The executable: an ELF header, one loadable segment (read + execute), the three instructions."""
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, version 1, System V
    entry = _BASE + _EHSIZE + _PHSIZE
    header += struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, _EHSIZE, 0, 0, _EHSIZE, _PHSIZE, 1, 0, 0, 0
    )  # ET_EXEC, x86-64, version, entry, program headers at 64, no sections, sizes, 1 program header
    size = _EHSIZE + _PHSIZE + len(_CODE)
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # PT_LOAD, R+X
    return header + program_header + _CODE


def pause_rootfs_tar() -> bytes:
    """The image's root filesystem: one executable file, ``pause``."""
    elf = pause_elf()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        info.size, info.mode = len(elf), 0o755
        tar.addfile(info, io.BytesIO(elf))
    return out.getvalue()


def ensure_pause_image(runtime: ContainerRuntime, machine: str | None = None) -> str:
    """Make :data:`PAUSE_IMAGE` present (importing it unless it is); returns its reference.

    Raises :class:`UnsupportedPlatform` on a host that is not x86_64 (the executable is x86_64 code).
    """
    arch = machine if machine is not None else platform.machine()
    if arch.lower() not in _X86_64:
        raise UnsupportedPlatform(
            f"awsvpc tasks need the pause image, which dockyard builds for x86_64 only (this host: {arch})"
        )
    if not runtime.image_exists(PAUSE_IMAGE):
        runtime.import_image(PAUSE_IMAGE, pause_rootfs_tar(), PAUSE_CHANGES)
    return PAUSE_IMAGE

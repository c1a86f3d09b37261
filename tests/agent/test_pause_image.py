"""The pause image's executable and tarball, and its import through the runtime."""

from __future__ import annotations

import io
import struct
import tarfile

import pytest

from dockyard.agent.fake_runtime import FakeRuntime
from dockyard.agent.pause_image import (
    PAUSE_CHANGES,
    PAUSE_IMAGE,
    ensure_pause_image,
    pause_elf,
    pause_rootfs_tar,
)
from dockyard.agent.runtime import RuntimeUnavailable


def test_the_executable_is_a_valid_static_x86_64_elf() -> None:
    elf = pause_elf()

    assert len(elf) == 129
    assert elf[:4] == b"\x7fELF"
    assert tuple(elf[4:7]) == (2, 1, 1)  # ELFCLASS64, little-endian, EV_CURRENT
    e_type, e_machine, e_version, e_entry, e_phoff, e_shoff = struct.unpack_from("<HHIQQQ", elf, 16)
    assert (e_type, e_machine, e_version) == (2, 0x3E, 1)  # ET_EXEC, EM_X86_64
    assert (e_phoff, e_shoff) == (64, 0)
    _flags, e_ehsize, e_phentsize, e_phnum = struct.unpack_from("<IHHH", elf, 48)
    assert (e_ehsize, e_phentsize, e_phnum) == (64, 56, 1)
    p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_align = struct.unpack_from(
        "<IIQQQQQQ", elf, 64
    )
    assert (p_type, p_flags, p_offset, p_align) == (1, 5, 0, 0x1000)  # PT_LOAD, R+X, from the start
    assert p_filesz == p_memsz == len(elf)
    assert p_vaddr <= e_entry < p_vaddr + p_filesz
    code = elf[e_entry - p_vaddr :]
    assert code == bytes.fromhex("b8220000000f05ebf7")  # mov eax,34 (pause); syscall; jmp -9
    assert code[-1] == (-len(code)) & 0xFF  # the jump lands back on the mov


def test_the_rootfs_holds_one_executable_file() -> None:
    with tarfile.open(fileobj=io.BytesIO(pause_rootfs_tar())) as tar:
        members = tar.getmembers()
        assert [(m.name, m.isfile(), m.mode & 0o111 != 0) for m in members] == [("pause", True, True)]
        extracted = tar.extractfile(members[0])
        assert extracted is not None and extracted.read() == pause_elf()


def test_ensure_imports_once() -> None:
    runtime = FakeRuntime()

    assert ensure_pause_image(runtime, machine="x86_64") == PAUSE_IMAGE
    assert ensure_pause_image(runtime, machine="x86_64") == PAUSE_IMAGE

    assert [(image, changes) for image, _tar, changes in runtime.imports] == [(PAUSE_IMAGE, PAUSE_CHANGES)]
    assert runtime.image_exists(PAUSE_IMAGE)


def test_other_architectures_are_refused_clearly() -> None:
    with pytest.raises(RuntimeUnavailable, match=r"x86_64 only.*aarch64"):
        ensure_pause_image(FakeRuntime(), machine="aarch64")

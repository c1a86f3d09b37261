"""Shared helpers for the registry tests: a controllable clock and the two blob drivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.registry.base import UploadingBlobDriver
from dockyard.registry.filesystem import FilesystemBlobDriver
from dockyard.registry.memory import MemoryBlobDriver


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2024, 5, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class DriverHarness:
    """A driver under test plus a way to simulate a server restart on the same storage."""

    kind: str
    clock: FakeClock
    driver: UploadingBlobDriver
    root: Path

    def restart(self) -> UploadingBlobDriver:
        if isinstance(self.driver, FilesystemBlobDriver):
            self.driver = FilesystemBlobDriver(self.root, clock=self.clock)
        else:
            assert isinstance(self.driver, MemoryBlobDriver)
            self.driver = self.driver.reopen()
        return self.driver


@pytest.fixture(params=["filesystem", "memory"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> DriverHarness:
    clock = FakeClock()
    root = tmp_path / "registry"
    driver: UploadingBlobDriver
    if request.param == "filesystem":
        driver = FilesystemBlobDriver(root, clock=clock)
    else:
        driver = MemoryBlobDriver(clock=clock)
    return DriverHarness(request.param, clock, driver, root)

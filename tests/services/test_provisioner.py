"""The provisioner's and retire command's processes: run with their environment, rate-limited, reaped."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dockyard.core.context import Principal
from dockyard.server.provisioner import Provisioner
from dockyard.store.credentials import AccessKey
from tests.polling import wait_until

KEY = AccessKey(
    access_key_id="AKIAPOOL000000000001",
    secret_access_key="pool-secret",
    principal=Principal(
        account_id="111122223333",
        arn="arn:aws:iam::111122223333:user/pool",
        user_id="AIDAPOOL",
        access_key_id="AKIAPOOL000000000001",
    ),
    is_root=False,
)


def test_the_command_gets_the_pool_environment_once_per_interval_and_is_reaped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "calls"
    clock = [100.0]
    provisioner = Provisioner(
        f'echo "$DOCKYARD_FARGATE_REGION $DOCKYARD_FARGATE_WAITING $AWS_ACCESS_KEY_ID" >> {out}; exit 3',
        endpoint="http://127.0.0.1:4566",
        pool_key=KEY,
        interval_s=60,
        monotonic=lambda: clock[0],
        environ={"PATH": "/usr/bin:/bin"},
    )
    with caplog.at_level(logging.WARNING, logger="dockyard.server.provisioner"):
        provisioner("us-east-1", 3)
        provisioner("us-east-1", 4)  # within the interval: not run
        wait_until(
            lambda: any("exited with 3" in r.getMessage() for r in caplog.records),
            deadline_s=10,
            what="the command's exit to be reaped and logged",
        )
    assert out.read_text() == "us-east-1 3 AKIAPOOL000000000001\n"
    clock[0] += 61
    provisioner("eu-west-1", 1)
    wait_until(lambda: out.read_text().count("\n") == 2, deadline_s=10, what="the second call")
    assert out.read_text().splitlines()[1] == "eu-west-1 1 AKIAPOOL000000000001"

"""Random Spot interruptions against the real server: with a rate so high that every check interrupts
what it may, a RUNNING FARGATE_SPOT task is interrupted as AWS does it and a FARGATE (on-demand) task
running beside it the whole time never is.

Real parts only: the server process, its own pool host on the Docker Engine, boto3.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.agents import (
    CLUSTER_LABEL,
    push_busybox,
    remove_containers,
    require_docker,
    wait_for_status,
)
from tests.integration.conftest import ServerProcess, make_client
from tests.integration.test_fargate import TERM_AWARE, _clean_up_docker, register

# Per hour; a check every 5 s then interrupts a task exposed for 0.1 s with probability 1 - e^-1 and one
# exposed for a whole interval with probability 1 - e^-500.
RATE_PER_HOUR = 360_000
RUNNING_DEADLINE_S = 90.0


@pytest.fixture
def spot_server(tmp_path: Path) -> Iterator[ServerProcess]:
    require_docker()
    proc = ServerProcess(
        tmp_path / "server",
        extra_env={
            "DOCKYARD_FARGATE_LOCAL_POOL": "1",
            "DOCKYARD_FARGATE_SPOT_INTERRUPTION_RATE_PER_HOUR": str(RATE_PER_HOUR),
            "DOCKYARD_AGENT_HEARTBEAT_INTERVAL_S": "1",
        },
    )
    proc.data_dir.mkdir(parents=True)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        _clean_up_docker(proc)


def test_a_high_rate_interrupts_the_spot_task_and_never_the_on_demand_one(
    spot_server: ServerProcess, tmp_path: Path
) -> None:
    user = spot_server.create_key(f"spot-{uuid.uuid4().hex[:6]}")
    image = push_busybox(spot_server.endpoint, user, tmp_path / "docker", f"spot-{uuid.uuid4().hex[:6]}")
    ecs = make_client(spot_server, "ecs", user)
    cluster = f"spot-{uuid.uuid4().hex[:6]}"
    cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
    ecs.put_cluster_capacity_providers(
        cluster=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=[]
    )
    subnet = make_client(spot_server, "ec2", user).describe_subnets()["Subnets"][0]["SubnetId"]
    definition = register(
        ecs,
        f"spot-{uuid.uuid4().hex[:6]}",
        [{"name": "app", "image": image, "command": ["sh", "-c", TERM_AWARE]}],
    )
    network = {"awsvpcConfiguration": {"subnets": [subnet]}}
    try:
        # The on-demand task runs first, so every check that can interrupt the Spot task covers it too.
        (on_demand,) = ecs.run_task(
            cluster=cluster, launchType="FARGATE", taskDefinition=definition, networkConfiguration=network
        )["tasks"]
        wait_for_status(ecs, cluster, [on_demand["taskArn"]], "RUNNING", deadline_s=RUNNING_DEADLINE_S)
        (spot,) = ecs.run_task(
            cluster=cluster,
            capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            taskDefinition=definition,
            networkConfiguration=network,
        )["tasks"]
        assert spot["capacityProviderName"] == "FARGATE_SPOT"

        (stopped,) = wait_for_status(
            ecs, cluster, [spot["taskArn"]], "STOPPED", deadline_s=RUNNING_DEADLINE_S
        )
        assert stopped["stopCode"] == "SpotInterruption"
        assert stopped["stoppedReason"] == "Your Spot Task was interrupted."
        assert stopped["startedAt"] <= stopped["stoppingAt"]  # it ran, then was interrupted
        assert stopped["containers"][0]["exitCode"] == 0  # SIGTERM first: the trap exited cleanly

        (still,) = ecs.describe_tasks(cluster=cluster, tasks=[on_demand["taskArn"]])["tasks"]
        assert (still["lastStatus"], still["desiredStatus"]) == ("RUNNING", "RUNNING")
        assert "stopCode" not in still
    finally:
        remove_containers(CLUSTER_LABEL, cluster_arn)

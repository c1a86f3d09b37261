"""The pure translation between runtime types and Docker Engine API JSON (no engine needed)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from dockyard.agent import docker_api
from dockyard.agent.runtime import (
    Bind,
    ContainerSpec,
    HealthCheck,
    NetworkBinding,
    PortBinding,
    PullAuth,
    Ulimit,
)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox", ("busybox", "latest")),
        ("localhost:5000/team/app", ("localhost:5000/team/app", "latest")),
        ("localhost:5000/team/app:v2", ("localhost:5000/team/app", "v2")),
        ("repo@sha256:" + "a" * 64, ("repo", "sha256:" + "a" * 64)),
    ],
)
def test_split_reference(image: str, expected: tuple[str, str]) -> None:
    assert docker_api.split_reference(image) == expected


def test_registry_auth_header_names_the_registry_host() -> None:
    header = docker_api.registry_auth_header("123456789012.dkr.ecr.local:8443/app", PullAuth("AWS", "pw"))
    decoded = json.loads(base64.urlsafe_b64decode(header))
    assert decoded == {
        "username": "AWS",
        "password": "pw",
        "serveraddress": "123456789012.dkr.ecr.local:8443",
    }
    hub = json.loads(
        base64.urlsafe_b64decode(docker_api.registry_auth_header("user/app", PullAuth("u", "p")))
    )
    assert hub["serveraddress"] == docker_api.DOCKER_HUB_AUTH_ADDRESS
    assert "pw" not in repr(PullAuth("AWS", "pw"))


def test_pull_error_is_found_in_a_successful_stream() -> None:
    lines = [
        json.dumps({"status": "Pulling from team/app"}),
        "",
        json.dumps({"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"}),
    ]
    assert docker_api.pull_error(lines) == "manifest unknown"
    assert docker_api.pull_error([json.dumps({"status": "Downloaded newer image"})]) is None


def test_pull_digest_is_read_from_the_stream() -> None:
    digest = "sha256:" + "ab" * 32
    lines = [
        json.dumps({"status": "Pulling from team/app", "id": "v1"}),
        "not json",
        json.dumps({"status": f"Digest: {digest}"}),
        json.dumps({"status": "Status: Image is up to date for localhost:4566/team/app:v1"}),
    ]
    assert docker_api.pull_digest(lines) == digest
    assert docker_api.pull_digest([json.dumps({"status": "Downloaded newer image"})]) is None


def test_create_body_maps_every_setting() -> None:
    spec = ContainerSpec(
        name="web",
        image="app:1",
        command=("serve",),
        entrypoint=("/bin/sh", "-c"),
        env={"A": "1"},
        working_dir="/srv",
        user="1000",
        labels={"k": "v"},
        cpu_shares=512,
        memory_bytes=128,
        memory_reservation_bytes=64,
        port_bindings=(PortBinding(80), PortBinding(53, "udp", 5353, "127.0.0.1")),
        binds=(Bind("/data", "/var/data", read_only=True), Bind("cache", "/cache")),
        ulimits=(Ulimit("nofile", 1024, 2048),),
        readonly_rootfs=True,
        health_check=HealthCheck(
            ("CMD-SHELL", "true"), interval_s=1.5, timeout_s=2, retries=4, start_period_s=3
        ),
        stop_timeout_s=7,
        extra_hosts=(("db", "10.0.0.5"),),
    )
    body = docker_api.create_body(spec)
    assert body["Cmd"] == ["serve"] and body["Entrypoint"] == ["/bin/sh", "-c"]
    assert (body["Env"], body["WorkingDir"], body["User"], body["Labels"]) == (
        ["A=1"],
        "/srv",
        "1000",
        {"k": "v"},
    )
    assert body["StopTimeout"] == 7
    assert body["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert body["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"],
        "Interval": 1_500_000_000,
        "Timeout": 2_000_000_000,
        "Retries": 4,
        "StartPeriod": 3_000_000_000,
    }
    host = body["HostConfig"]
    assert host["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": ""}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
    }
    assert (host["Memory"], host["MemoryReservation"], host["CpuShares"]) == (128, 64, 512)
    assert host["Binds"] == ["/data:/var/data:ro", "cache:/cache"]
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["ExtraHosts"] == ["db:10.0.0.5"]
    assert (host["ReadonlyRootfs"], host["Privileged"], host["PublishAllPorts"]) == (True, False, False)


def test_create_body_leaves_image_defaults_alone() -> None:
    body = docker_api.create_body(ContainerSpec(name="x", image="app"))
    assert not {"Cmd", "Entrypoint", "WorkingDir", "User", "Healthcheck", "StopTimeout"} & set(body)
    assert not {"Memory", "CpuShares", "MemoryReservation"} & set(body["HostConfig"])


def test_a_cgroup_parent_and_a_storage_size_are_passed_on() -> None:
    body = docker_api.create_body(
        ContainerSpec(name="x", image="busybox", cgroup_parent="/docker/abc", storage_size_gib=20)
    )
    assert body["HostConfig"]["CgroupParent"] == "/docker/abc"
    assert body["HostConfig"]["StorageOpt"] == {"size": "20G"}


@pytest.mark.parametrize(
    ("driver", "backing", "limits"),
    [("overlay2", "extfs", False), ("overlay2", "xfs", True), ("btrfs", "btrfs", True), ("vfs", "", False)],
)
def test_which_storage_drivers_cap_a_writable_layer(driver: str, backing: str, limits: bool) -> None:
    info = {"Driver": driver, "DriverStatus": [["Backing Filesystem", backing], ["Supports d_type", "true"]]}
    assert docker_api.limits_storage(info) is limits


def test_parse_timestamp() -> None:
    assert docker_api.parse_timestamp("0001-01-01T00:00:00Z") is None
    assert docker_api.parse_timestamp("2024-05-01T12:00:01.123456789Z") == datetime(
        2024, 5, 1, 12, 0, 1, 123456, tzinfo=UTC
    )
    assert docker_api.parse_timestamp("2024-05-01T12:00:01Z") == datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)


def test_state_from_inspect() -> None:
    data = {
        "Id": "abc",
        "Name": "/web",
        "Image": "sha256:" + "f" * 64,
        "Created": "2024-05-01T12:00:00.5Z",
        "Config": {"Image": "app:1", "Labels": {"k": "v"}},
        "HostConfig": {"Memory": 0, "CpuShares": 0},
        "State": {
            "Status": "exited",
            "ExitCode": 137,
            "OOMKilled": True,
            "Error": "",
            "StartedAt": "2024-05-01T12:00:01Z",
            "FinishedAt": "2024-05-01T12:00:02Z",
            "Health": {"Status": "unhealthy"},
        },
        "NetworkSettings": {
            "Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "9/udp": None},
            "Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "other": {"IPAddress": ""}},
        },
    }
    state = docker_api.state_from_inspect(data)
    assert (state.id, state.name, state.image, state.labels) == ("abc", "web", "app:1", {"k": "v"})
    assert (state.status, state.exit_code, state.oom_killed, state.health) == (
        "exited",
        137,
        True,
        "unhealthy",
    )
    assert state.error is None and state.memory_bytes is None and state.cpu_shares is None
    assert state.network_bindings == (NetworkBinding(8080, "tcp", "0.0.0.0", 32768),)
    assert state.ip_addresses == {"bridge": "172.17.0.2"}
    assert state.finished_at == datetime(2024, 5, 1, 12, 0, 2, tzinfo=UTC)


def _frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_the_log_stream_is_demultiplexed_into_timestamped_lines_across_chunks() -> None:
    stream = (
        _frame(1, b"2026-12-07T11:56:39.123456789Z hello\n")
        + _frame(2, b"2026-12-07T11:56:39.5Z oops\n")
        # json-file cuts a long line in pieces, each with its own timestamp: joined under the first one
        + _frame(1, b"2026-12-07T11:56:40.000000001Z first half ")
        + _frame(1, b"2026-12-07T11:56:40.000000002Z second half\n")
    )
    demuxer = docker_api.LogDemuxer()
    lines = [line for i in range(0, len(stream), 7) for line in demuxer.feed(stream[i : i + 7])]
    base = 1_796_644_599 * 1_000_000_000
    assert [(line.timestamp_ns - base, line.text, line.stream) for line in lines] == [
        (123_456_789, "hello", "stdout"),
        (500_000_000, "oops", "stderr"),
        (1_000_000_001, "first half second half", "stdout"),
    ]

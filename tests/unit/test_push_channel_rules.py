"""The pure parts of the push channel: task payloads, stop codes, task health, the notifier, and the
agent's URL and signature (checked by the server's own SigV4 verifier)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.credentials import Credentials

from dockyard.agent.channel import signed_headers, websocket_url
from dockyard.api.auth.sigv4 import SignedRequest, verify_sigv4
from dockyard.control.launch.shape import merge_environment
from dockyard.core import agent_protocol as protocol
from dockyard.core.errors import InvalidSignatureError
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.services.ecs.payloads import task_payload
from dockyard.services.ecs.task_state import stop_code_for, task_health, with_health
from dockyard.store.tasks import TaskRecord

NOW = datetime(2026, 11, 28, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "us-east-1"
TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web/{'c' * 32}"


def record(**changes: Any) -> TaskRecord:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "region": REGION,
        "cluster_name": "web",
        "task_id": "c" * 32,
        "arn": TASK_ARN,
        "cluster_arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web",
        "task_definition_arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:12",
        "family": "web",
        "container_instance_arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/web/i1",
        "last_status": "PENDING",
        "desired_status": "RUNNING",
        "launch_type": "EC2",
        "group": "family:web",
        "started_by": None,
        "cpu": None,
        "memory": None,
        "reserved_cpu": 0,
        "reserved_memory": 64,
        "reserved_ports_tcp": (),
        "reserved_ports_udp": (),
        "overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": []},
        "containers": [
            {"name": "app", "image": "nginx", "containerArn": "arn:c/app", "healthStatus": "UNKNOWN"},
            {"name": "log", "image": "busybox", "containerArn": "arn:c/log", "healthStatus": "UNKNOWN"},
        ],
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return TaskRecord(**values)


BODY: dict[str, Any] = {
    "family": "web",
    "networkMode": "host",
    "volumes": [{"name": "v", "host": {"sourcePath": "/srv"}}],
    "containerDefinitions": [
        {
            "name": "app",
            "image": "nginx",
            "cpu": 256,
            "memory": 512,
            "command": ["nginx", "-g", "daemon off;"],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "healthCheck": {"command": ["CMD", "true"]},
        },
        {"name": "log", "image": "busybox", "memory": 64, "essential": False},
    ],
}


def test_payload_carries_the_definition_with_overrides_applied() -> None:
    overrides = {
        "containerOverrides": [
            {
                "name": "app",
                "command": ["sh", "-c", "echo"],
                "environment": [{"name": "B", "value": "x"}, {"name": "C", "value": "3"}],
                "cpu": 512,
                "memory": 1024,
                "memoryReservation": 256,
            }
        ]
    }
    payload = task_payload(
        record(overrides=overrides, cpu="1024", memory="2048", desired_status="STOPPED"),
        BODY,
        [("team", "a")],
    )
    assert {k: v for k, v in payload.items() if k != "containers"} == {
        "taskArn": TASK_ARN,
        "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web",
        "family": "web",
        "version": "12",
        "desiredStatus": "STOPPED",
        "networkMode": "host",
        "cpu": "1024",
        "memory": "2048",
        "volumes": [{"name": "v", "host": {"sourcePath": "/srv"}}],
        "tags": [{"key": "team", "value": "a"}],
        "launchType": "EC2",
    }
    app, log = payload["containers"]
    assert app == {
        **BODY["containerDefinitions"][0],
        "command": ["sh", "-c", "echo"],
        "environment": [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "x"},
            {"name": "C", "value": "3"},
        ],
        "cpu": 512,
        "memory": 1024,
        "memoryReservation": 256,
        "containerArn": "arn:c/app",
    }
    assert log == {**BODY["containerDefinitions"][1], "containerArn": "arn:c/log"}
    # The stored definition is not modified.
    assert BODY["containerDefinitions"][0]["command"] == ["nginx", "-g", "daemon off;"]


def test_payload_defaults_and_a_purged_definition() -> None:
    payload = task_payload(record(), {"containerDefinitions": BODY["containerDefinitions"]}, [])
    assert payload["networkMode"] == "bridge" and payload["volumes"] == [] and payload["tags"] == []
    assert "cpu" not in payload and "memory" not in payload
    bare = task_payload(record(), None, [])
    assert bare["containers"] == [
        {"name": "app", "image": "nginx", "containerArn": "arn:c/app"},
        {"name": "log", "image": "busybox", "containerArn": "arn:c/log"},
    ]


def test_a_fargate_payload_carries_its_ephemeral_storage() -> None:
    body = {"containerDefinitions": BODY["containerDefinitions"]}
    assert task_payload(record(launch_type="FARGATE"), body, [])["ephemeralStorageGiB"] == 20
    sized = {**body, "ephemeralStorage": {"sizeInGiB": 50}}
    assert task_payload(record(launch_type="FARGATE"), sized, [])["ephemeralStorageGiB"] == 50
    overridden = record(launch_type="FARGATE", overrides={"ephemeralStorage": {"sizeInGiB": 100}})
    assert task_payload(overridden, sized, [])["ephemeralStorageGiB"] == 100
    assert "ephemeralStorageGiB" not in task_payload(record(), sized, [])  # EC2: the host's disk


def test_environment_merge_keeps_order_and_replaces_by_name() -> None:
    assert merge_environment(
        [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], [{"name": "A", "value": "9"}]
    ) == [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("Essential container in task exited", "EssentialContainerExited"),
        ("CannotPullContainerError: pull access denied", "TaskFailedToStart"),
        ("CannotCreateContainerError: no space", "TaskFailedToStart"),
        ("CannotStartContainerError: oci runtime", "TaskFailedToStart"),
        ("ResourceInitializationError: secrets", "TaskFailedToStart"),
        ("Task stopped by user", None),
        ("", None),
        (None, None),
    ],
)
def test_stop_codes(reason: str | None, code: str | None) -> None:
    assert stop_code_for(reason) == code


def test_task_health() -> None:
    definitions = BODY["containerDefinitions"]
    assert task_health(definitions, {"app": "HEALTHY", "log": "UNHEALTHY"}) == "HEALTHY"  # log not essential
    assert task_health(definitions, {"app": "UNHEALTHY"}) == "UNHEALTHY"
    assert task_health(definitions, {"app": "UNKNOWN"}) == "UNKNOWN"
    no_checks: list[dict[str, Any]] = [{"name": "a"}, {"name": "b", "essential": True}]
    assert task_health(no_checks, {"a": "HEALTHY", "b": "HEALTHY"}) == "UNKNOWN"
    assert task_health(no_checks, {"b": "UNHEALTHY"}) == "UNHEALTHY"
    both = [{"name": "a", "healthCheck": {}}, {"name": "b", "healthCheck": {"command": ["CMD", "x"]}}]
    assert task_health(both, {"a": "HEALTHY", "b": "HEALTHY"}) == "HEALTHY"
    assert task_health(both, {"a": "HEALTHY"}) == "UNKNOWN"


def test_with_health_updates_containers_and_task() -> None:
    updated = with_health(record(), BODY["containerDefinitions"], {"app": "HEALTHY", "ghost": "HEALTHY"}, NOW)
    assert updated is not None and updated.health_status == "HEALTHY"
    assert [c["healthStatus"] for c in updated.containers] == ["HEALTHY", "UNKNOWN"]
    assert with_health(updated, BODY["containerDefinitions"], {"app": "HEALTHY"}, NOW) is None
    assert with_health(record(), BODY["containerDefinitions"], {"app": "bogus"}, NOW) is None


def test_notifier_wakes_subscribers_of_the_instance_from_any_thread() -> None:
    notifier = InstanceNotifier()
    woken: list[str] = []
    unsubscribe = notifier.subscribe("i1", lambda: woken.append("a"))
    notifier.subscribe("i2", lambda: woken.append("b"))

    def boom() -> None:
        raise RuntimeError("broken subscriber")

    notifier.subscribe("i1", boom)
    thread = threading.Thread(target=notifier.notify, args=(["i1", None, "i1", "i3"],))
    thread.start()
    thread.join()
    assert woken == ["a"]
    unsubscribe()
    notifier.notify(["i1", "i2"])
    assert woken == ["a", "b"]
    assert notifier.subscriber_count("i1") == 1


def test_websocket_url() -> None:
    query = {"clusterArn": "arn:aws:ecs:us-east-1:1:cluster/a", "seqNum": "0"}
    assert websocket_url("http://h:4566/", query) == (
        "ws://h:4566/ws?clusterArn=arn%3Aaws%3Aecs%3Aus-east-1%3A1%3Acluster%2Fa&seqNum=0"
    )
    assert websocket_url("https://h", {}).startswith("wss://h/ws")
    with pytest.raises(ValueError, match="not an http"):
        websocket_url("ftp://h", {})


def test_agent_signature_verifies_with_the_server_verifier() -> None:
    url = websocket_url(
        "http://127.0.0.1:4566",
        {"clusterArn": "arn:aws:ecs:us-east-1:1:cluster/a", "containerInstanceArn": "arn:x/y", "seqNum": "3"},
    )
    headers = signed_headers(url, Credentials("AKIDEXAMPLE", "secret"), REGION)
    parts = urlsplit(url)
    received = [("Host", "127.0.0.1:4566"), ("Upgrade", "websocket"), *headers.items()]

    def request(query: str) -> SignedRequest:
        empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        return SignedRequest("GET", parts.path, query, received, empty)

    lookup = {"AKIDEXAMPLE": "secret"}.get
    signed_at = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    verified = verify_sigv4(request(parts.query), now=signed_at, lookup_secret=lookup)
    assert (verified.service, verified.region) == (protocol.SIGNING_SERVICE, REGION)
    with pytest.raises(InvalidSignatureError):
        verify_sigv4(
            request(parts.query.replace("seqNum=3", "seqNum=4")), now=signed_at, lookup_secret=lookup
        )


def test_heartbeat_interval_setting() -> None:
    from dockyard.core.settings import load_settings

    assert load_settings().agent_heartbeat_interval_s == protocol.DEFAULT_HEARTBEAT_INTERVAL_S
    env = {"DOCKYARD_AGENT_HEARTBEAT_INTERVAL_S": "0.5"}
    assert load_settings(environ=env).agent_heartbeat_interval_s == 0.5

"""ApiReporter: coalescing per task, retries, giving up on client errors, the botocore parameter shapes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.validate import ParamValidator

from dockyard.agent.reporter import ApiReporter, ContainerChange, TaskReport
from tests.polling import wait_until

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
T1 = "arn:aws:ecs:us-east-1:123456789012:task/prod/t1"
T2 = "arn:aws:ecs:us-east-1:123456789012:task/prod/t2"
BINDING = {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32768, "protocol": "tcp"}
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _client_error(status: int, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SubmitTaskStateChange",
    )


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures: list[BaseException] = []
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()

    def submit_task_state_change(self, **kwargs: Any) -> dict[str, Any]:
        self.gate.wait(5)
        with self.lock:
            self.calls.append(kwargs)
            if self.failures:
                raise self.failures.pop(0)
        return {"acknowledgment": "ACK"}


def _wait(predicate: Callable[[], bool], deadline_s: float = 5) -> None:
    wait_until(predicate, deadline_s=deadline_s, what="the reporter", interval_s=0.005)


def _report(arn: str = T1, status: str = "RUNNING", **fields: Any) -> TaskReport:
    return TaskReport(arn, status, **fields)  # type: ignore[arg-type]


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


def test_parameters_match_botocore_model() -> None:
    report = TaskReport(
        T1,
        "STOPPED",
        reason="Essential container in task exited",
        containers=(
            ContainerChange(
                "app",
                "STOPPED",
                exit_code=3,
                reason="x" * 300,
                network_bindings=(
                    {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32768, "protocol": "tcp"},
                ),
                runtime_id="abc",
                image_digest="sha256:" + "0" * 64,
            ),
            ContainerChange("sidecar", "STOPPED"),
        ),
        pull_started_at=NOW,
        pull_stopped_at=NOW,
        execution_stopped_at=NOW,
    )
    params = report.to_api(CLUSTER)
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("SubmitTaskStateChange").input_shape
    assert not ParamValidator().validate(params, shape).has_errors()
    assert params["containers"][0]["exitCode"] == 3
    assert len(params["containers"][0]["reason"]) == 255
    assert params["containers"][1] == {"containerName": "sidecar", "status": "STOPPED"}


def test_sends_and_coalesces_per_task(client: FakeClient) -> None:
    client.gate.clear()
    reporter = ApiReporter(client, CLUSTER)
    try:
        reporter.submit(_report(T1, "RUNNING"))
        _wait(lambda: len(reporter.pending()) == 1)
        reporter.submit(_report(T2, "RUNNING"))
        reporter.submit(_report(T2, "STOPPED"))  # replaces T2's RUNNING, not yet sent
        client.gate.set()
        _wait(lambda: len(client.calls) == 2 and not reporter.pending())
        assert [(c["task"], c["status"]) for c in client.calls] == [(T1, "RUNNING"), (T2, "STOPPED")]
        assert client.calls[0]["cluster"] == CLUSTER
    finally:
        reporter.close()


def test_retries_connection_errors_and_server_faults(client: FakeClient) -> None:
    client.failures = [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        _client_error(500, "ServerException"),
        _client_error(400, "ThrottlingException"),
    ]
    reporter = ApiReporter(client, CLUSTER, initial_backoff_s=0.01, max_backoff_s=0.02)
    try:
        reporter.submit(_report(T1, "STOPPED"))
        _wait(lambda: len(client.calls) == 4 and not reporter.pending())
        assert all(c["status"] == "STOPPED" for c in client.calls)
    finally:
        reporter.close()


def test_a_newer_report_replaces_one_being_retried(client: FakeClient) -> None:
    client.failures = [EndpointConnectionError(endpoint_url="http://x")]
    reporter = ApiReporter(client, CLUSTER, initial_backoff_s=0.2, max_backoff_s=0.2)
    try:
        reporter.submit(_report(T1, "RUNNING"))
        _wait(lambda: len(client.calls) == 1)
        reporter.submit(_report(T1, "STOPPED"))
        _wait(lambda: len(client.calls) == 2 and not reporter.pending())
        assert client.calls[1]["status"] == "STOPPED"
    finally:
        reporter.close()


def test_gives_up_on_client_errors(client: FakeClient) -> None:
    client.failures = [_client_error(400, "InvalidParameterException")]
    reporter = ApiReporter(client, CLUSTER, initial_backoff_s=0.01)
    try:
        reporter.submit(_report(T1))
        reporter.submit(_report(T2))
        _wait(lambda: len(client.calls) == 2 and not reporter.pending())
        assert [c["task"] for c in client.calls] == [T1, T2]
    finally:
        reporter.close()


def test_close_is_prompt_even_while_backing_off(client: FakeClient) -> None:
    client.failures = [EndpointConnectionError(endpoint_url="http://x")] * 100
    reporter = ApiReporter(client, CLUSTER, initial_backoff_s=60, max_backoff_s=60)
    reporter.submit(_report(T1))
    _wait(lambda: len(client.calls) == 1)
    started = time.monotonic()
    reporter.close()
    assert time.monotonic() - started < 1
    reporter.submit(_report(T2))  # after close: dropped, not raised

"""Joining the cluster: RegisterContainerInstance (keeping the ARN across restarts) and DiscoverPollEndpoint.

- The first registration persists the ARN in the state file; every later start re-registers with
  ``containerInstanceArn`` so the server updates the same instance instead of adding one.
- If the server no longer knows that ARN (deregistered, another server, another cluster) it answers
  ``InvalidParameterException``/``ClientException``: the agent registers afresh and persists the new ARN.
- Like the ECS agent, an agent of the cluster named ``default`` (or the Fargate pool's ``fargate``) creates
  it (CreateCluster) when the server answers ``ClusterNotFoundException``, then registers again; any other
  missing cluster is an error.
- Connection failures, timeouts, throttling and server faults are retried with jittered exponential
  backoff (250 ms doubling to a 2 min cap); other client errors (no such cluster, bad credentials) are fatal.

Time and randomness are injected (``sleep``, ``rng``), and the ECS client is anything with botocore's
method names, so all of this is unit-tested without a server.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import botocore.config
import botocore.session
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from dockyard.agent.config import FARGATE_POOL_CLUSTER
from dockyard.agent.host import Registration
from dockyard.agent.state import AgentState, StateStore

log = logging.getLogger("dockyard.agent")

T = TypeVar("T")

INITIAL_BACKOFF_S = 0.25
MAX_BACKOFF_S = 120.0
BACKOFF_MULTIPLIER = 2.0
BACKOFF_JITTER = 0.2
DEFAULT_CLUSTER = "default"
SELF_MADE_CLUSTERS = frozenset({DEFAULT_CLUSTER, FARGATE_POOL_CLUSTER})  # the first agent creates these
CLUSTER_NOT_FOUND = "ClusterNotFoundException"
UNKNOWN_ARN_CODES = frozenset({"InvalidParameterException", "ClientException"})
RETRYABLE_CODES = frozenset(
    {"ServerException", "ThrottlingException", "Throttling", "ServiceUnavailable", "InternalFailure"}
)


class EcsClient(Protocol):
    """The calls the agent makes, with botocore's names and keyword arguments."""

    def register_container_instance(self, **kwargs: Any) -> dict[str, Any]: ...

    def discover_poll_endpoint(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_container_instances(self, **kwargs: Any) -> dict[str, Any]: ...

    def create_cluster(self, **kwargs: Any) -> dict[str, Any]: ...

    def submit_task_state_change(self, **kwargs: Any) -> dict[str, Any]: ...


class Stopped(Exception):  # noqa: N818 - reads as the condition
    """Shutdown was requested while waiting to retry."""


class Backoff:
    """Exponential backoff with ±``jitter`` proportional noise: 250 ms, 500 ms, 1 s … capped at 2 min."""

    def __init__(
        self,
        rng: Callable[[], float],
        *,
        initial_s: float = INITIAL_BACKOFF_S,
        maximum_s: float = MAX_BACKOFF_S,
        multiplier: float = BACKOFF_MULTIPLIER,
        jitter: float = BACKOFF_JITTER,
    ) -> None:
        self._rng = rng
        self._initial_s = initial_s
        self._maximum_s = maximum_s
        self._multiplier = multiplier
        self._jitter = jitter
        self._current_s = initial_s

    def next_delay(self) -> float:
        """The next wait: the current step ± jitter (``rng()`` in [0, 1)), never above the cap."""
        base = self._current_s
        self._current_s = min(self._current_s * self._multiplier, self._maximum_s)
        noisy = base * (1.0 - self._jitter + 2.0 * self._jitter * self._rng())
        return min(noisy, self._maximum_s)

    def reset(self) -> None:
        self._current_s = self._initial_s


def is_retryable(exc: BaseException) -> bool:
    """Transport failures, throttling and server faults are worth retrying; client errors are not."""
    if isinstance(exc, ConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500 or error_code(exc) in RETRYABLE_CODES
    return False


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass
class Retrier:
    """Calls a function until it succeeds or fails with a non-retryable error; stops early on shutdown."""

    sleep: Callable[[float], bool]
    """Waits the given seconds; returns ``True`` when shutdown was requested meanwhile (``Event.wait``)."""
    rng: Callable[[], float]
    retryable: Callable[[BaseException], bool] = is_retryable

    def call(self, what: str, fn: Callable[[], T]) -> T:
        backoff = Backoff(self.rng)
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:
                if not self.retryable(exc):
                    raise
                delay = backoff.next_delay()
                log.warning("%s failed (attempt %d: %s); retrying in %.2f s", what, attempt, exc, delay)
                if self.sleep(delay):
                    raise Stopped(what) from exc


def ecs_client(endpoint: str, region: str | None) -> tuple[EcsClient, str]:
    """A SigV4-signing botocore ECS client for ``endpoint`` and the region it signs for.

    Credentials come from botocore's usual chain (env vars, ``AWS_PROFILE``, shared files). botocore's own
    retries are off: :class:`Retrier` owns retrying, with the agent's schedule.
    """
    session = botocore.session.get_session()
    resolved = region or _env_region() or session.get_config_variable("region") or "us-east-1"
    if session.get_credentials() is None:
        raise ValueError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        )
    config = botocore.config.Config(
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="dockyard-agent",
    )
    client: EcsClient = session.create_client(
        "ecs", region_name=resolved, endpoint_url=endpoint, config=config
    )
    return client, resolved


def _env_region() -> str | None:
    return os.environ.get("AWS_REGION") or None


@dataclass
class Registrar:
    """Registers this host with ``cluster`` and keeps its containerInstanceArn in ``store``."""

    client: EcsClient
    cluster: str
    endpoint: str
    store: StateStore
    retrier: Retrier

    def register(self, registration: Registration) -> dict[str, Any]:
        """RegisterContainerInstance; returns the ``containerInstance`` the server answered with."""
        state = self.store.load()
        known_arn = (
            state.container_instance_arn if state is not None and state.cluster == self.cluster else None
        )
        if state is not None and known_arn is None:
            log.info("state is for cluster %s, not %s: registering afresh", state.cluster, self.cluster)
        instance: dict[str, Any] | None = None
        if known_arn is not None:
            try:
                instance = self._call(registration, known_arn)
            except ClientError as exc:
                if error_code(exc) not in UNKNOWN_ARN_CODES:
                    raise
                log.warning(
                    "the server refused container instance %s (%s): registering afresh", known_arn, exc
                )
        if instance is None:
            instance = self._call(registration, None)
        arn = str(instance["containerInstanceArn"])
        if arn != known_arn:
            self.store.save(
                AgentState(cluster=self.cluster, container_instance_arn=arn, endpoint=self.endpoint)
            )
        log.info(
            "registered container instance %s in cluster %s%s",
            arn,
            self.cluster,
            " (same instance as before)" if arn == known_arn else "",
        )
        return instance

    def _call(self, registration: Registration, arn: str | None) -> dict[str, Any]:
        params = {"cluster": self.cluster, **registration.to_api()}
        if arn is not None:
            params["containerInstanceArn"] = arn

        def register() -> dict[str, Any]:
            return self.retrier.call(
                "RegisterContainerInstance", lambda: self.client.register_container_instance(**params)
            )

        try:
            response = register()
        except ClientError as exc:
            if self.cluster not in SELF_MADE_CLUSTERS or error_code(exc) != CLUSTER_NOT_FOUND:
                raise
            log.info("cluster %s does not exist: creating it", self.cluster)
            self.retrier.call("CreateCluster", lambda: self.client.create_cluster(clusterName=self.cluster))
            response = register()
        instance: dict[str, Any] = response["containerInstance"]
        return instance

    def discover_poll_endpoint(self, container_instance_arn: str) -> str:
        response = self.retrier.call(
            "DiscoverPollEndpoint",
            lambda: self.client.discover_poll_endpoint(
                containerInstance=container_instance_arn, cluster=self.cluster
            ),
        )
        return str(response.get("endpoint", ""))

    def describe_self(self, container_instance_arn: str) -> dict[str, Any] | None:
        """This instance as the server sees it now (one attempt; ``None`` if the server does not know it)."""
        response = self.client.describe_container_instances(
            cluster=self.cluster, containerInstances=[container_instance_arn]
        )
        instances: list[dict[str, Any]] = response.get("containerInstances", [])
        return instances[0] if instances else None


def shutdown_sleep(event: threading.Event) -> Callable[[float], bool]:
    """A ``sleep`` for :class:`Retrier` that wakes early, returning ``True``, when ``event`` is set."""
    return event.wait

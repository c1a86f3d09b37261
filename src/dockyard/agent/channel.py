"""The agent end of the push channel: a SigV4-signed websocket to the server's ``/ws``.

Frames and fields are the contract in :mod:`dockyard.core.agent_protocol`. :class:`PushChannel` owns the
connection and hands the tasks it receives to a :class:`ChannelHandler` (the task engine):

- ``PayloadMessage`` → ``handler.apply(tasks)``, then ``AckRequest`` — only once ``apply`` returned (the
  tasks are persisted); if it raises, no ack, and the server sends the payload again.
- ``HeartbeatMessage`` → ``HeartbeatAckRequest``. The server's interval, when it states one
  (``heartbeatIntervalSeconds``), replaces the configured one for detecting silence.
- ``TaskManifestMessage`` → ``AckRequest``, then ``TaskStopVerificationMessage`` naming the local tasks
  (``handler.active_task_arns()``) missing from the manifest, if any; the ``TaskStopVerificationAck``
  → ``handler.stop_tasks`` for the confirmed ones among those proposed.
- ``FirewallMessage`` → ``on_firewall(interfaces)`` (the whole desired state; unacked). The callback
  must not block: the agent's :class:`~dockyard.agent.firewall.Firewall` applies it on its own thread.
- :meth:`PushChannel.publish_health` sends ``PublishHealthRequest`` from any thread; dropped when not
  connected.
- :meth:`PushChannel.put_log_events` sends a ``PutLogEventsRequest`` from any thread and waits for its
  ``PutLogEventsAck`` (None when not connected or no answer came).

Connecting signs the upgrade GET afresh on every attempt (botocore's ``SigV4Auth``, service ``ecs``).
Failures and lost connections are retried with jittered exponential backoff, 250 ms doubling to 2 min,
reset once a connection proved healthy (it delivered a heartbeat). Silence for ``DEAD_AFTER_HEARTBEATS``
heartbeat intervals counts as a dead connection. Setting ``stop`` ends :meth:`PushChannel.run` within
:data:`POLL_S`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from dockyard import __version__
from dockyard.agent.registration import Backoff
from dockyard.core import agent_protocol as protocol

log = logging.getLogger("dockyard.agent.channel")

POLL_S = 0.2
"""How often a blocked receive looks at ``stop`` and at the silence deadline."""
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
MAX_FRAME_BYTES = 64 * 1024 * 1024
STOP_REASON = "Task stopped: the server confirmed it no longer runs on this instance"


class ChannelHandler(Protocol):
    """What the push channel drives: the agent's task engine."""

    def apply(self, tasks: Sequence[protocol.TaskPayload]) -> None:
        """Take these tasks (new ones, or new desired statuses); return once they are persisted."""

    def active_task_arns(self) -> set[str]:
        """The ARNs of the tasks this agent runs or is starting (not yet stopped)."""

    def stop_tasks(self, task_arns: Sequence[str], reason: str) -> None:
        """Stop these local tasks, which the server confirmed it does not want."""


def websocket_url(endpoint_url: str, query: Mapping[str, str]) -> str:
    """The push channel's ``ws(s)://host[:port]/ws?…`` for a server base URL ``http(s)://host[:port][/…]``."""
    parts = urlsplit(endpoint_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) endpoint: {endpoint_url!r}")
    return urlunsplit((scheme, parts.netloc, protocol.WEBSOCKET_PATH, urlencode(query, quote_via=quote), ""))


def signed_headers(url: str, credentials: Any, region: str) -> dict[str, str]:
    """The SigV4 headers (Authorization, X-Amz-Date, X-Amz-Security-Token if any) for a GET of the
    websocket ``url``, as botocore signs a GET of the same http(s) URL."""
    parts = urlsplit(url)
    http_url = urlunsplit(({"ws": "http", "wss": "https"}[parts.scheme], *parts[1:]))
    request = AWSRequest(method="GET", url=http_url)
    SigV4Auth(credentials, protocol.SIGNING_SERVICE, region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items() if name.lower() != "host"}


class PushChannel:
    def __init__(
        self,
        *,
        endpoint_url: str,
        cluster_arn: str,
        container_instance_arn: str,
        credentials: Any,
        region: str,
        handler: ChannelHandler,
        stop: threading.Event,
        rng: Callable[[], float] = random.random,
        agent_version: str = __version__,
        heartbeat_interval_s: float = protocol.DEFAULT_HEARTBEAT_INTERVAL_S,
        on_firewall: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        """``credentials`` are botocore credentials (``session.get_credentials()``): they are read at every
        connection attempt, so refreshed credentials are used."""
        self._endpoint_url = endpoint_url
        self._cluster_arn = cluster_arn
        self._instance_arn = container_instance_arn
        self._credentials = credentials
        self._region = region
        self._handler = handler
        self._on_firewall = on_firewall
        self._stop = stop
        self._rng = rng
        self._agent_version = agent_version
        self._configured_interval_s = heartbeat_interval_s
        self._interval_s = heartbeat_interval_s
        self._seq_num = 0
        self._send_lock = threading.Lock()
        self._connection: ClientConnection | None = None
        self._proposed: dict[str, set[str]] = {}
        self._log_answers: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._log_lock = threading.Lock()
        self._healthy = False
        self.connected = threading.Event()
        """Set while a session is open (after the handshake), cleared when it ends."""
        self.connections = 0
        """How many sessions were opened so far."""
        websocket_url(endpoint_url, {})  # fail early on a bad endpoint

    @property
    def is_connected(self) -> bool:
        return self.connected.is_set()

    def run(self) -> None:
        """Hold the channel open until ``stop`` is set, reconnecting with backoff."""
        backoff = Backoff(self._rng)
        while not self._stop.is_set():
            try:
                connection = self._connect()
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                delay = backoff.next_delay()
                log.warning("push channel: cannot connect (%s); retrying in %.2f s", exc, delay)
                self._stop.wait(delay)
                continue
            healthy = self._serve(connection)
            if healthy:
                backoff.reset()
            if self._stop.is_set():
                break
            delay = backoff.next_delay()
            log.info("push channel: connection lost; reconnecting in %.2f s", delay)
            self._stop.wait(delay)

    def publish_health(self, task_arn: str, statuses: Mapping[str, str]) -> None:
        """Report container health (``{containerName: HEALTHY|UNHEALTHY|UNKNOWN}``) of one task; silently
        dropped when the channel is not connected."""
        containers = [{"containerName": name, "healthStatus": status} for name, status in statuses.items()]
        self._send(protocol.PUBLISH_HEALTH, {"tasks": [{"taskArn": task_arn, "containers": containers}]})

    def put_log_events(self, request: Mapping[str, Any], timeout_s: float = 30.0) -> dict[str, Any] | None:
        """Send a ``PutLogEventsRequest`` (without ``messageId``) and wait for its ``PutLogEventsAck``; None
        when not connected, the connection ended, or no answer came within ``timeout_s``. The caller
        resends what got no answer: the server skips lines it already stored."""
        message_id = str(uuid.uuid4())
        arrived = threading.Event()
        answer: list[dict[str, Any]] = []
        with self._log_lock:
            self._log_answers[message_id] = (arrived, answer)
        try:
            if not self._send(protocol.PUT_LOG_EVENTS, {**request, "messageId": message_id}):
                return None
            arrived.wait(timeout_s)
            return answer[0] if answer else None
        finally:
            with self._log_lock:
                self._log_answers.pop(message_id, None)

    def _log_answer(self, message: dict[str, Any]) -> None:
        with self._log_lock:
            waiting = self._log_answers.get(str(message.get("messageId")))
        if waiting is not None:
            waiting[1].append(message)
            waiting[0].set()

    def _abandon_log_requests(self) -> None:
        """The connection ended: nobody will answer the requests in flight."""
        with self._log_lock:
            for arrived, _ in self._log_answers.values():
                arrived.set()

    # --- one connection ----------------------------------------------------------------------------------

    def _connect(self) -> ClientConnection:
        query = {
            "clusterArn": self._cluster_arn,
            "containerInstanceArn": self._instance_arn,
            "agentVersion": self._agent_version,
            "seqNum": str(self._seq_num),
        }
        url = websocket_url(self._endpoint_url, query)
        headers = signed_headers(url, self._credentials, self._region)
        return connect(
            url,
            additional_headers=headers,
            user_agent_header=f"dockyard-agent/{self._agent_version}",
            open_timeout=OPEN_TIMEOUT_S,
            close_timeout=CLOSE_TIMEOUT_S,
            max_size=MAX_FRAME_BYTES,
        )

    def _serve(self, connection: ClientConnection) -> bool:
        """Handle frames until the connection ends; whether it proved healthy (delivered a heartbeat)."""
        self._healthy = False
        self._interval_s = self._configured_interval_s
        with self._send_lock:
            self._connection = connection
        self.connections += 1
        self.connected.set()
        log.info("push channel connected to %s", self._endpoint_url)
        try:
            with connection:  # closes it on the way out (and is how websockets ≥ 17.1 wants it used)
                self._receive(connection)
        except ConnectionClosed as exc:
            log.info("push channel closed: %s", exc)
        finally:
            self.connected.clear()
            with self._send_lock:
                self._connection = None
            self._abandon_log_requests()
        return self._healthy

    def _receive(self, connection: ClientConnection) -> None:
        last_heard = time.monotonic()
        while not self._stop.is_set():
            try:
                text = connection.recv(timeout=POLL_S)
            except TimeoutError:
                if time.monotonic() - last_heard > protocol.DEAD_AFTER_HEARTBEATS * self._interval_s:
                    log.warning("push channel: the server is silent; reconnecting")
                    return
                continue
            last_heard = time.monotonic()
            try:
                message_type, message = protocol.decode(text, protocol.SERVER_MESSAGES)
            except protocol.ProtocolError as exc:
                log.warning("push channel: bad frame: %s", exc)
                continue
            if self._dispatch(message_type, message):
                self._healthy = True

    def _dispatch(self, message_type: str, message: dict[str, Any]) -> bool:
        """Handle one frame; True for a heartbeat."""
        if message_type == protocol.PAYLOAD:
            tasks = [t for t in message.get("tasks") or [] if isinstance(t, Mapping)]
            try:
                self._handler.apply(tasks)
            except Exception:
                log.exception("push channel: applying a payload failed; the server will send it again")
                return False
            if isinstance(message.get("seqNum"), int):
                self._seq_num = max(self._seq_num, int(message["seqNum"]))
            self._ack(message)
        elif message_type == protocol.HEARTBEAT:
            interval = message.get("heartbeatIntervalSeconds")
            if isinstance(interval, int | float) and interval > 0:
                self._interval_s = float(interval)
            self._send(protocol.HEARTBEAT_ACK, {"messageId": message.get("messageId")})
            return True
        elif message_type == protocol.TASK_MANIFEST:
            self._ack(message)
            self._verify_manifest(message)
        elif message_type == protocol.TASK_STOP_VERIFICATION_ACK:
            proposed = self._proposed.pop(str(message.get("messageId")), set())
            confirmed = [
                str(t["taskArn"])
                for t in message.get("stopTasks") or []
                if isinstance(t, Mapping) and t.get("taskArn") in proposed
            ]
            if confirmed:
                self._handler.stop_tasks(confirmed, STOP_REASON)
        elif message_type == protocol.FIREWALL:
            self._firewall(message)
        elif message_type == protocol.PUT_LOG_EVENTS_ACK:
            self._log_answer(message)
        return False

    def _firewall(self, message: Mapping[str, Any]) -> None:
        interfaces = message.get("interfaces")
        if not isinstance(interfaces, list):
            log.warning("push channel: a FirewallMessage without interfaces; ignored")
            return
        if self._on_firewall is None:
            return
        try:
            self._on_firewall([dict(i) for i in interfaces if isinstance(i, Mapping)])
        except Exception:
            log.exception("push channel: handing over the firewall state failed")

    def _verify_manifest(self, message: Mapping[str, Any]) -> None:
        listed = {str(t.get("taskArn")) for t in message.get("tasks") or [] if isinstance(t, Mapping)}
        candidates = sorted(self._handler.active_task_arns() - listed)
        if not candidates:
            return
        message_id = str(uuid.uuid4())
        self._proposed = {message_id: set(candidates)}
        self._send(
            protocol.TASK_STOP_VERIFICATION,
            {"messageId": message_id, "stopCandidates": [{"taskArn": arn} for arn in candidates]},
        )

    def _ack(self, message: Mapping[str, Any]) -> None:
        self._send(
            protocol.ACK,
            {
                "messageId": message.get("messageId"),
                "cluster": self._cluster_arn,
                "containerInstance": self._instance_arn,
            },
        )

    def _send(self, message_type: str, message: Mapping[str, Any]) -> bool:
        """Send one frame; False when not connected or the send failed."""
        with self._send_lock:
            connection = self._connection
            if connection is None:
                return False
            try:
                connection.send(protocol.encode(message_type, message))
            except (ConnectionClosed, OSError) as exc:
                log.info("push channel: cannot send %s: %s", message_type, exc)
                return False
            return True

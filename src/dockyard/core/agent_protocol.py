"""The agent protocol: frames of the push channel between the server and an agent, and the task payload.

Modelled on ECS's ACS (REFERENCE.md): a SigV4-signed websocket at ``GET /ws`` on the server's own port,
query ``?clusterArn=…&containerInstanceArn=…&agentVersion=…&seqNum=…``. Every frame is one JSON text
message ``{"type": "<Msg>", "message": {…}}``. Both ends import this module (the agent imports only
``dockyard.core``), so the message names and fields below are the contract.

Server → agent:

- ``PayloadMessage`` ``{messageId, seqNum, clusterArn, containerInstanceArn, tasks: [TaskPayload]}``: tasks
  to run or to stop. The agent persists the tasks, then sends ``AckRequest{messageId, cluster,
  containerInstance}``. A payload not acked is sent again (after a reconnect at the latest), so applying
  one twice must be harmless: a task is keyed by its ARN and its desired status only moves to STOPPED.
- ``HeartbeatMessage`` ``{messageId, healthy, heartbeatIntervalSeconds}``: answered with
  ``HeartbeatAckRequest{messageId}``. An end that hears nothing for :data:`DEAD_AFTER_HEARTBEATS`
  heartbeat intervals treats the connection as dead; ``heartbeatIntervalSeconds`` (optional) is the
  server's interval, which the agent then uses for that count.
- ``TaskManifestMessage`` ``{messageId, clusterArn, containerInstanceArn, tasks: [{taskArn,
  desiredStatus}], timeline}``: every task the server has on this instance that is not STOPPED. The agent
  acks it and proposes stopping the local tasks missing from it with ``TaskStopVerificationMessage
  {messageId, stopCandidates: [{taskArn}]}``; the server answers ``TaskStopVerificationAck{messageId,
  stopTasks: [{taskArn}]}`` naming those it confirms (tasks it does not know, or wants STOPPED), and the
  agent stops exactly those.

- ``FirewallMessage`` ``{messageId, interfaces: [{networkInterfaceId, privateIPv4Address, ingress: [{protocol,
  fromPort, toPort, cidrs: [str]}]}]}``: the security-group ingress of every awsvpc interface on this
  instance, resolved by the server to IPv4 CIDRs (a rule naming a group becomes its members' ``/32``s).
  ``protocol`` is ``tcp``, ``udp``, ``icmp`` or ``-1`` (every protocol; ports absent then). It is the whole
  desired state: sent at connect and whenever it changes, unacked; the agent replaces what it enforced
  before. Traffic to an interface's address that no rule admits is dropped (replies of admitted
  connections pass); traffic from the host itself is not filtered.

Agent → server, unanswered: ``PublishHealthRequest`` ``{tasks: [{taskArn, containers: [{containerName,
healthStatus}]}]}`` with ``healthStatus`` HEALTHY, UNHEALTHY or UNKNOWN, sent when a Docker health check
changes (ECS carries health on its telemetry channel; SubmitTaskStateChange has no field for it).

Agent → server, answered: ``PutLogEventsRequest`` ``{messageId, taskArn, containerName, logGroupName,
logStreamName, createGroup, region, events: [{timestamp, message, position: [ns, ordinal]}]}``: output of an
``awslogs`` container, in order; ``timestamp`` in ms, ``position`` the line's place in the container's
output (Docker's timestamp in ns, then its ordinal among lines of that timestamp). The server stores it
in the task's own account, in ``region`` (awslogs-region; absent: the task's), the task on the sender's
instance, and answers
``PutLogEventsAck{messageId, stored, duplicates, rejected, position}``, or ``{messageId, error: {code,
message}}`` (e.g. ResourceNotFoundException when the group is missing and ``createGroup`` is false).
Events at or before the stream's last stored position are duplicates of a resend and are not stored again,
so the agent may resend anything it has no ack for.

A :data:`TaskPayload` is what the agent needs to run a task without asking again: ``taskArn``,
``clusterArn``, ``family``, ``version`` (the revision, a string), ``desiredStatus`` (``RUNNING`` or
``STOPPED``), ``networkMode`` (``bridge``, ``host``, ``none`` or ``awsvpc``), task-level ``cpu`` and
``memory`` (unit strings or absent), ``volumes`` (the task definition's), ``tags`` (``[{key, value}]``),
``launchType`` and ``containers``: each container definition in ECS's ``ContainerDefinition`` shape, with
RunTask's overrides (command, environment, cpu, memory, memoryReservation) already applied, plus
``containerArn``.

An ``awsvpc`` task also carries ``networkInterface``: ``{attachmentId, networkInterfaceId,
privateIPv4Address, macAddress, subnetId, subnetCidr, subnetGateway}`` (``privateDnsName`` optional), the
interface the server allocated in the subnet. The agent gives the task its own network namespace holding
``privateIPv4Address`` (and ``macAddress``) on a Docker bridge network ``dockyard-<subnetId>`` for
``subnetCidr`` with gateway ``subnetGateway``; the task's containers share it (``localhost`` between them)
and their ports are open at that address, not published on the host. ``privateIPv4Address``, ``subnetId``,
``subnetCidr`` and ``subnetGateway`` are required: without them the task stops with
``ResourceInitializationError: …``. A task may also carry ``availabilityZone`` (the zone of its subnet, which
the metadata endpoint reports instead of the agent's own), ``registryAuth`` (``{registry, username,
password}``: credentials for pulling that task's images from dockyard's registry — a Fargate pool host
pulls images of other accounts with them, instead of its own token) and ``stopTimeoutSeconds`` (overrides
every container's stop grace: a Spot interruption gives 120). Any task may carry
``containerRuntime: "runsc"`` to run its containers under gVisor; an engine without ``runsc`` runs them
under ``runc`` (the agent logs that isolation is weaker).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

WEBSOCKET_PATH = "/ws"
SIGNING_SERVICE = "ecs"

# Server → agent.
PAYLOAD = "PayloadMessage"
HEARTBEAT = "HeartbeatMessage"
TASK_MANIFEST = "TaskManifestMessage"
TASK_STOP_VERIFICATION_ACK = "TaskStopVerificationAck"
FIREWALL = "FirewallMessage"
PUT_LOG_EVENTS_ACK = "PutLogEventsAck"
# Agent → server.
ACK = "AckRequest"
HEARTBEAT_ACK = "HeartbeatAckRequest"
TASK_STOP_VERIFICATION = "TaskStopVerificationMessage"
PUBLISH_HEALTH = "PublishHealthRequest"
PUT_LOG_EVENTS = "PutLogEventsRequest"

SERVER_MESSAGES = frozenset(
    {PAYLOAD, HEARTBEAT, TASK_MANIFEST, TASK_STOP_VERIFICATION_ACK, FIREWALL, PUT_LOG_EVENTS_ACK}
)
AGENT_MESSAGES = frozenset({ACK, HEARTBEAT_ACK, TASK_STOP_VERIFICATION, PUBLISH_HEALTH, PUT_LOG_EVENTS})

DEFAULT_HEARTBEAT_INTERVAL_S = 20.0
DEAD_AFTER_HEARTBEATS = 3
"""Silence for this many heartbeat intervals means the connection is dead."""

DESIRED_RUNNING = "RUNNING"
DESIRED_STOPPED = "STOPPED"

TaskPayload = Mapping[str, Any]
"""One task as the server sends it; the fields are listed in the module docstring."""


class ProtocolError(ValueError):
    """A frame that is not ``{"type": <known str>, "message": {…}}``."""


def encode(message_type: str, message: Mapping[str, Any]) -> str:
    """One frame as the text sent on the websocket."""
    return orjson.dumps({"type": message_type, "message": dict(message)}).decode()


def decode(text: str | bytes, expected: frozenset[str]) -> tuple[str, dict[str, Any]]:
    """``(type, message)`` of a received frame; :class:`ProtocolError` unless its type is in ``expected``."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ProtocolError("frame is not a JSON object")
    message_type, message = frame.get("type"), frame.get("message")
    if not isinstance(message_type, str) or message_type not in expected:
        raise ProtocolError(f"unexpected message type {message_type!r}")
    if not isinstance(message, dict):
        raise ProtocolError(f"{message_type} has no message object")
    return message_type, message

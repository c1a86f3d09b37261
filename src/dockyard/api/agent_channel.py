"""The server end of the agents' push channel: a SigV4-signed websocket at ``GET /ws``.

Frames and fields are the contract in :mod:`dockyard.core.agent_protocol`. One session per container
instance; a newer connection replaces an older one (closed with :data:`CLOSE_REPLACED`).

- **Upgrade.** The GET is verified with the gateway's SigV4 verifier (service ``ecs``, empty body) and
  refused with the AWS error as an HTTP denial (403 for authentication) before the websocket is accepted.
  The query names the instance (``containerInstanceArn``) and its cluster (``clusterArn``): it must be an
  instance of the signer's account, in that cluster, not INACTIVE
  (:meth:`~dockyard.services.ecs.agent_sessions.AgentSessions.authorize`).
- **Connected.** ``agent_connected`` is written as "this instance has a live session here" after every
  session starts or ends, under a per-instance lock, so the last writer always states the truth.
- **Payloads** are level-triggered: the session keeps, per task, the desired status the agent acked and
  the one in flight. On every wake-up — a notification from the provider after a commit
  (:class:`~dockyard.services.ecs.notifier.InstanceNotifier`), or the heartbeat tick as the slow re-check
  — it reads the instance's tasks that are not STOPPED and sends one ``PayloadMessage`` with those whose
  desired status is neither acked nor in flight for less than a heartbeat interval (so an unacked payload
  is sent again; a new session starts with nothing acked and sends everything).
- **Heartbeats** every ``agent_heartbeat_interval_s``; a ``TaskManifestMessage`` at connect and every
  :data:`MANIFEST_EVERY_HEARTBEATS` heartbeats. An agent silent for ``DEAD_AFTER_HEARTBEATS`` intervals
  is disconnected (:data:`CLOSE_SILENT`). ``HeartbeatAckRequest`` refreshes ``agent_last_seen_at``.
- **Firewall.** Every push cycle (connect, wake-up, heartbeat tick) also reads the instance's
  ``FirewallMessage`` (:meth:`~dockyard.services.ecs.agent_sessions.AgentSessions.firewall`: its awsvpc
  interfaces with their security groups' ingress resolved to CIDRs) and sends it when it differs from the
  last one this session sent — always at connect. The EC2 provider wakes the sessions concerned after a
  security-group change; membership changes (tasks starting or stopping elsewhere) arrive within a tick.
- Stop verifications and health reports go to the store through the same service, in worker threads.
- **Deregistered.** :meth:`AgentChannel.disconnect` (any thread) closes the sessions of instances the
  server deregistered itself (a retired Fargate pool host) with :data:`CLOSE_DEREGISTERED`; a new session
  for them is refused (INACTIVE), and their agents see the status at their next heartbeat.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any

import anyio
import anyio.to_thread
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from dockyard.api.auth.sigv4 import ScopePolicy, verify_sigv4
from dockyard.api.gateway import signed_request_from_scope
from dockyard.api.principals import KeyResolver
from dockyard.api.protocol.json_protocol import serialize_json_error
from dockyard.core import agent_protocol as protocol
from dockyard.core.clock import Clock
from dockyard.core.errors import ApiError, InvalidParameterError, UnrecognizedClientError
from dockyard.services.ecs.agent_sessions import AgentSessions, SessionTarget
from dockyard.services.ecs.notifier import InstanceNotifier

log = logging.getLogger(__name__)

MANIFEST_EVERY_HEARTBEATS = 3
CLOSE_REPLACED = 4000
CLOSE_SILENT = 4001
CLOSE_DEREGISTERED = 4002
MIN_INTERVAL_S = 0.05
MAX_TRACKED_MESSAGES = 256


class AgentChannel:
    """The ``/ws`` endpoint and the live sessions of this process."""

    def __init__(
        self,
        *,
        sessions: AgentSessions,
        notifier: InstanceNotifier,
        keys: KeyResolver,
        clock: Clock,
        regions: frozenset[str] | None = None,
        heartbeat_interval_s: float = protocol.DEFAULT_HEARTBEAT_INTERVAL_S,
        log_sink: LogSink | None = None,
    ) -> None:
        self._sessions = sessions
        self._log_sink = log_sink
        self._scope = ScopePolicy(service=protocol.SIGNING_SERVICE, regions=regions)
        self._notifier = notifier
        self._keys = keys
        self._clock = clock
        self._interval_s = max(heartbeat_interval_s, MIN_INTERVAL_S)
        self._live: dict[str, _Session] = {}
        self._state_locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def route(self) -> WebSocketRoute:
        return WebSocketRoute(protocol.WEBSOCKET_PATH, self.handle)

    def live_instances(self) -> frozenset[str]:
        return frozenset(self._live)

    async def start(self) -> None:
        """At server start no session exists: clear every instance's ``agent_connected``. Single-server
        behaviour — see :mod:`dockyard.services.ecs.agent_sessions`."""
        self._loop = asyncio.get_running_loop()
        cleared = await anyio.to_thread.run_sync(self._sessions.mark_all_disconnected)
        if cleared:
            log.info("marked %d container instances disconnected until their agents reconnect", cleared)

    def disconnect(self, instance_arns: Iterable[str]) -> None:
        """Close the live sessions of ``instance_arns`` (deregistered by the server); callable from any
        thread, returns at once."""
        arns = list(instance_arns)
        if self._loop is not None and arns:
            self._loop.call_soon_threadsafe(self._close_deregistered, arns)

    def _close_deregistered(self, arns: Sequence[str]) -> None:
        for arn in arns:
            session = self._live.get(arn)
            if session is not None:
                log.info("instance deregistered: closing its push channel", extra={"instance": arn})
                session.deregistered()

    async def handle(self, websocket: WebSocket) -> None:
        try:
            target = await self._authorize(websocket)
        except ApiError as error:
            await _deny(websocket, error)
            return
        await websocket.accept()
        arn = target.instance_arn
        session = _Session(
            websocket, target, self._sessions, self._notifier, self._clock, self._interval_s, self._log_sink
        )
        previous = self._live.get(arn)
        self._live[arn] = session
        if previous is not None:
            log.info("a new push channel replaces the previous one", extra={"instance": arn})
            previous.replace()
        log.info("agent connected", extra={"instance": arn})
        try:
            await self._sync_connected(target)
            await session.run()
        finally:
            with anyio.CancelScope(shield=True):
                if self._live.get(arn) is session:
                    del self._live[arn]
                try:
                    await self._sync_connected(target)
                except Exception:
                    log.exception("cannot record the agent's disconnection", extra={"instance": arn})
            log.info("agent disconnected", extra={"instance": arn})

    async def _authorize(self, websocket: WebSocket) -> SessionTarget:
        scope = websocket.scope
        signature = verify_sigv4(
            signed_request_from_scope(scope, b""),
            now=self._clock(),
            lookup_secret=self._keys.secret_for,
            policy=self._scope,
        )
        key = self._keys.find(signature.access_key_id)
        if key is None:
            raise UnrecognizedClientError("The security token included in the request is invalid.")
        query = websocket.query_params
        cluster, instance = query.get("clusterArn"), query.get("containerInstanceArn")
        if not cluster or not instance:
            raise InvalidParameterError("clusterArn and containerInstanceArn are required.")
        return await anyio.to_thread.run_sync(
            self._sessions.authorize, key.principal.account_id, cluster, instance
        )

    async def _sync_connected(self, target: SessionTarget) -> None:
        """Write ``agent_connected`` = whether the instance has a live session now."""
        lock = self._state_locks.setdefault(target.instance_arn, asyncio.Lock())
        async with lock:
            connected = target.instance_arn in self._live
            await anyio.to_thread.run_sync(self._sessions.set_connected, target, connected, self._clock())


async def _deny(websocket: WebSocket, error: ApiError) -> None:
    log.info("push channel refused: %s %s", error.code, error.message)
    wire = serialize_json_error(error, server_fault=False)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            Response(wire.body, status_code=wire.status, headers=wire.headers)
        )
    else:  # the server then answers the upgrade with a bare 403
        await websocket.close()


class _Session:
    """One agent's connection: its acks, its timers and its two loops (reader, writer)."""

    def __init__(
        self,
        websocket: WebSocket,
        target: SessionTarget,
        sessions: AgentSessions,
        notifier: InstanceNotifier,
        clock: Clock,
        interval_s: float,
        log_sink: LogSink | None = None,
    ) -> None:
        self._ws = websocket
        self._log_sink = log_sink
        self._target = target
        self._sessions = sessions
        self._notifier = notifier
        self._clock = clock
        self._interval_s = interval_s
        self._acked: dict[str, str] = {}
        self._in_flight: dict[str, tuple[str, float]] = {}
        self._messages: dict[str, dict[str, str]] = {}
        self._seq = itertools.count(1)
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._close_code: int | None = None
        self._last_heard = time.monotonic()
        self._send_lock = asyncio.Lock()
        self._firewall_sent: list[dict[str, Any]] | None = None

    def replace(self) -> None:
        self._close(CLOSE_REPLACED)

    def deregistered(self) -> None:
        self._close(CLOSE_DEREGISTERED)

    def _close(self, code: int) -> None:
        if self._close_code is None:
            self._close_code = code
        self._done.set()
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()

        def wake() -> None:  # any thread
            loop.call_soon_threadsafe(self._wake.set)

        unsubscribe = self._notifier.subscribe(self._target.instance_arn, wake)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._reader)
                await self._writer()
                group.cancel_scope.cancel()
        finally:
            unsubscribe()
            if self._close_code is not None and self._ws.client_state == WebSocketState.CONNECTED:
                with anyio.CancelScope(shield=True), suppress(RuntimeError, OSError, WebSocketDisconnect):
                    await self._ws.close(self._close_code)

    # --- writer: payloads, heartbeats, manifests ---------------------------------------------------------

    async def _writer(self) -> None:
        await self._push(manifest=True)
        beats = 0
        next_beat = time.monotonic() + self._interval_s
        while not self._done.is_set():
            with anyio.move_on_after(max(0.0, next_beat - time.monotonic())):
                await self._wake.wait()
            self._wake.clear()
            if self._done.is_set():
                return
            now = time.monotonic()
            if now - self._last_heard > protocol.DEAD_AFTER_HEARTBEATS * self._interval_s:
                log.warning(
                    "agent silent: closing its push channel", extra={"instance": self._target.instance_arn}
                )
                self._close(CLOSE_SILENT)
                return
            manifest = False
            if now >= next_beat:
                beats += 1
                next_beat = now + self._interval_s
                manifest = beats % MANIFEST_EVERY_HEARTBEATS == 0
                await self._send(
                    protocol.HEARTBEAT,
                    {
                        "messageId": _message_id(),
                        "healthy": True,
                        "heartbeatIntervalSeconds": self._interval_s,
                    },
                )
            await self._push(manifest=manifest)

    async def _push(self, *, manifest: bool) -> None:
        """Send the firewall if it changed, what the agent has not acked (level-triggered), then the manifest
        if asked."""
        await self._push_firewall()
        desired = await anyio.to_thread.run_sync(self._sessions.instance_tasks, self._target)
        now = time.monotonic()
        current = {task.arn for task in desired}
        for tracked in (self._acked, self._in_flight):
            for arn in [a for a in tracked if a not in current]:
                del tracked[arn]
        stale = [
            task.arn
            for task in desired
            if self._acked.get(task.arn) != task.desired_status
            and not self._recently_sent(task.arn, task.desired_status, now)
        ]
        if stale:
            payloads = await anyio.to_thread.run_sync(self._sessions.payloads, self._target, stale)
            if payloads:
                await self._send_payload(payloads)
        if manifest:
            await self._send(
                protocol.TASK_MANIFEST,
                {
                    "messageId": _message_id(),
                    "clusterArn": self._target.cluster_arn,
                    "containerInstanceArn": self._target.instance_arn,
                    "tasks": [{"taskArn": t.arn, "desiredStatus": t.desired_status} for t in desired],
                    "timeline": int(time.time() * 1000),
                },
            )

    async def _push_firewall(self) -> None:
        """The instance's firewall, sent at connect and then only when it differs from the last one sent (it
        goes before payloads, so a new task's interface is filtered before its containers start)."""
        interfaces = await anyio.to_thread.run_sync(self._sessions.firewall, self._target)
        if interfaces == self._firewall_sent:
            return
        self._firewall_sent = interfaces
        await self._send(protocol.FIREWALL, {"messageId": _message_id(), "interfaces": interfaces})

    def _recently_sent(self, arn: str, desired_status: str, now: float) -> bool:
        sent = self._in_flight.get(arn)
        return sent is not None and sent[0] == desired_status and now - sent[1] < self._interval_s

    async def _send_payload(self, payloads: Sequence[protocol.TaskPayload]) -> None:
        message_id = _message_id()
        statuses = {str(p["taskArn"]): str(p["desiredStatus"]) for p in payloads}
        self._messages[message_id] = statuses
        while len(self._messages) > MAX_TRACKED_MESSAGES:
            del self._messages[next(iter(self._messages))]
        now = time.monotonic()
        for arn, status in statuses.items():
            self._in_flight[arn] = (status, now)
        await self._send(
            protocol.PAYLOAD,
            {
                "messageId": message_id,
                "seqNum": next(self._seq),
                "clusterArn": self._target.cluster_arn,
                "containerInstanceArn": self._target.instance_arn,
                "tasks": list(payloads),
            },
        )

    async def _send(self, message_type: str, message: Mapping[str, Any]) -> None:
        if self._done.is_set():
            return
        try:
            async with self._send_lock:
                await self._ws.send_text(protocol.encode(message_type, message))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._done.set()
            self._wake.set()

    # --- reader: acks and the agent's requests -----------------------------------------------------------

    async def _reader(self) -> None:
        try:
            while True:
                frame = await self._ws.receive()
                if frame["type"] == "websocket.disconnect":
                    return
                text = frame.get("text")
                if text is None:
                    text = (frame.get("bytes") or b"").decode("utf-8", "replace")
                self._last_heard = time.monotonic()
                try:
                    message_type, message = protocol.decode(text, protocol.AGENT_MESSAGES)
                except protocol.ProtocolError as exc:
                    log.warning(
                        "bad frame from agent: %s", exc, extra={"instance": self._target.instance_arn}
                    )
                    continue
                await self._dispatch(message_type, message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        finally:
            self._done.set()
            self._wake.set()

    async def _dispatch(self, message_type: str, message: dict[str, Any]) -> None:
        if message_type == protocol.ACK:
            for arn, status in self._messages.pop(str(message.get("messageId")), {}).items():
                self._acked[arn] = status
                if self._in_flight.get(arn, ("",))[0] == status:
                    del self._in_flight[arn]
        elif message_type == protocol.HEARTBEAT_ACK:
            await anyio.to_thread.run_sync(self._sessions.seen, self._target, self._clock())
        elif message_type == protocol.TASK_STOP_VERIFICATION:
            candidates = [
                str(c["taskArn"])
                for c in message.get("stopCandidates") or []
                if isinstance(c, Mapping) and isinstance(c.get("taskArn"), str)
            ]
            confirmed = await anyio.to_thread.run_sync(self._sessions.confirm_stops, self._target, candidates)
            await self._send(
                protocol.TASK_STOP_VERIFICATION_ACK,
                {"messageId": message.get("messageId"), "stopTasks": [{"taskArn": a} for a in confirmed]},
            )
        elif message_type == protocol.PUBLISH_HEALTH:
            reports = [t for t in message.get("tasks") or [] if isinstance(t, Mapping)]
            await anyio.to_thread.run_sync(self._sessions.record_health, self._target, reports, self._clock())
        elif message_type == protocol.PUT_LOG_EVENTS:
            if self._log_sink is None:
                error = {"code": "UnsupportedOperation", "message": "This server stores no logs."}
                answer: dict[str, Any] = {"messageId": message.get("messageId"), "error": error}
            else:
                now_ms = int(self._clock().timestamp() * 1000)
                answer = await anyio.to_thread.run_sync(
                    self._log_sink, self._target.instance_arn, message, now_ms
                )
            await self._send(protocol.PUT_LOG_EVENTS_ACK, answer)


LogSink = Callable[[str, Mapping[str, Any], int], dict[str, Any]]
"""``(instance ARN, PutLogEventsRequest, now in ms) → PutLogEventsAck``: where shipped output goes
(services/logs/shipping.AgentLogShipping.accept)."""


def _message_id() -> str:
    return str(uuid.uuid4())

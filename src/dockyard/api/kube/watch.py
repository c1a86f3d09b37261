"""``?watch=true``: a stream of ``{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": …}`` lines.

```
resourceVersion "" or "0", or sendInitialEvents=true: the current objects as ADDED first (then, with
    sendInitialEvents, a BOOKMARK annotated k8s.io/initial-events-end)
resourceVersion N: the changes after N from the cluster's change log; compacted → one ERROR (410 Expired)
then: wait for a commit (the objects service wakes its subscribers), read the log after the last
    revision sent, filter by namespace and selectors, send; BOOKMARKs every BOOKMARK_INTERVAL_S when
    allowed; end at timeoutSeconds or when the client goes away
```
With a selector, an object that stops matching is sent as DELETED and one that starts matching as
ADDED, as kube-apiserver's watch cache does. With ``Accept: …;as=Table`` each object is a one-row Table.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import anyio
import orjson
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from dockyard.api.kube.paths import ResourceRequest
from dockyard.api.kube.responses import JSON, TABLE_CONTENT_TYPE, error_status
from dockyard.control.kube import tables
from dockyard.control.kube.catalog import Resource
from dockyard.control.kube.errors import BadRequestError, KubeError
from dockyard.control.kube.fields import FieldSelector, parse_field_selector
from dockyard.control.kube.selectors import LabelSelector, parse_label_selector
from dockyard.services.kube.objects import KubeObjects
from dockyard.store.kube import Change, ObjectKey

T = TypeVar("T")
Run = Callable[[Callable[[], T]], Awaitable[T]]

BOOKMARK_INTERVAL_S = 60.0
DEFAULT_TIMEOUT_S = (
    1800.0,
    3600.0,
)  # kube-apiserver picks a random timeout in [min-request-timeout, twice that)
CHANGES_PER_READ = 500


@dataclass(frozen=True, slots=True)
class WatchRequest:
    cluster_id: int
    resource: Resource
    namespace: str
    label_selector: str
    field_selector: str
    resource_version: str
    allow_bookmarks: bool
    timeout_s: float
    send_initial_events: bool

    @classmethod
    def from_query(cls, cluster_id: int, target: ResourceRequest, query: QueryParams) -> WatchRequest:
        field_selector = query.get("fieldSelector") or ""
        if target.name:  # the legacy /watch/…/<name> form watches one object
            by_name = f"metadata.name={target.name}"
            field_selector = f"{field_selector},{by_name}" if field_selector else by_name
        raw_timeout = query.get("timeoutSeconds")
        try:
            timeout = float(raw_timeout) if raw_timeout else random.uniform(*DEFAULT_TIMEOUT_S)  # noqa: S311
        except ValueError:
            raise BadRequestError(f"invalid value for timeoutSeconds: {raw_timeout!r}") from None
        return cls(
            cluster_id=cluster_id,
            resource=target.resource,
            namespace=target.namespace,
            label_selector=query.get("labelSelector") or "",
            field_selector=field_selector,
            resource_version=query.get("resourceVersion") or "",
            allow_bookmarks=(query.get("allowWatchBookmarks") or "").lower() in ("1", "true"),
            timeout_s=max(timeout, 0.0),
            send_initial_events=(query.get("sendInitialEvents") or "").lower() in ("1", "true"),
        )


class _Stream:
    """Filters changes by namespace and selectors and turns them into events, tracking which objects the
    client has been shown (``complete``: after an initial listing, every shown object is in ``shown``)."""

    def __init__(self, labels: LabelSelector, fields: FieldSelector, *, complete: bool) -> None:
        self._labels = labels
        self._fields = fields
        self.complete = complete
        self.shown: set[ObjectKey] = set()
        self._hidden: set[ObjectKey] = set()

    def matches(self, obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels")
        return self._labels.matches(labels) and self._fields.matches_object(obj)

    def event(
        self, change: Change, matched_before: Callable[[Change], bool]
    ) -> tuple[str, dict[str, Any]] | None:
        """The event for a change, if the client sees one; ``matched_before`` may read the store."""
        key = change.key
        if key in self.shown:
            was_shown = True
        elif key in self._hidden or self.complete or change.prev_revision is None:
            was_shown = False
        else:
            was_shown = matched_before(change)
        if change.type != "DELETED" and self.matches(change.value):
            self.shown.add(key)
            self._hidden.discard(key)
            return ("MODIFIED" if was_shown else "ADDED", change.value)
        self.shown.discard(key)
        self._hidden.add(key)
        return ("DELETED", change.value) if was_shown else None


async def serve_watch(
    scope: Scope,
    receive: Receive,
    send: Send,
    request: WatchRequest,
    objects: KubeObjects,
    *,
    run: Run[Any],
    table: bool,
    now: Callable[[], datetime],
) -> None:
    """Serve one watch until its timeout or the client's departure (selector errors raise before the
    response starts, so they still reach the client as a Status)."""
    labels = parse_label_selector(request.label_selector)
    fields = parse_field_selector(
        request.field_selector, group=request.resource.group, kind=request.resource.kind
    )
    watch = _Watch(request, objects, run, send, _Stream(labels, fields, complete=False), table=table, now=now)
    await watch.start()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
            await watch.pump()
            group.cancel_scope.cancel()
    finally:
        watch.close()
    try:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except Exception:
        return


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class _Watch:
    def __init__(
        self,
        request: WatchRequest,
        objects: KubeObjects,
        run: Run[Any],
        send: Send,
        stream: _Stream,
        *,
        table: bool,
        now: Callable[[], datetime],
    ) -> None:
        self._request = request
        self._objects = objects
        self._run = run
        self._send = send
        self._stream = stream
        self._table = table
        self._now = now
        self._filtered = bool(request.label_selector or request.field_selector)
        self._initial: list[dict[str, Any]] = []
        self._last = 0
        self._woken = asyncio.Event()
        self._unsubscribe: Callable[[], None] = lambda: None

    async def start(self) -> None:
        """Find the starting revision (listing the current objects when asked), subscribe, send headers."""
        request = self._request
        rv = request.resource_version
        if request.send_initial_events or rv in ("", "0"):
            listing = await self._run(
                lambda: self._objects.list_objects(
                    request.cluster_id,
                    request.resource,
                    request.namespace or None,
                    label_selector=request.label_selector,
                    field_selector=request.field_selector,
                )
            )
            self._initial, self._last = listing.items, int(listing.resource_version)
            self._stream.complete = True
        else:
            try:
                self._last = int(rv)
            except ValueError:
                raise BadRequestError(f"invalid resource version: {rv!r}") from None
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._woken.set)

        self._unsubscribe = self._objects.notifier.subscribe(str(request.cluster_id), wake)
        content_type = TABLE_CONTENT_TYPE if self._table else JSON
        headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-cache, private")]
        await self._send({"type": "http.response.start", "status": 200, "headers": headers})

    def close(self) -> None:
        self._unsubscribe()

    async def pump(self) -> None:
        request = self._request
        for obj in self._initial:
            meta = obj.get("metadata") or {}
            namespace = meta.get("namespace", "") if request.resource.namespaced else ""
            self._stream.shown.add(
                ObjectKey(request.resource.group, request.resource.plural, namespace, meta["name"])
            )
            await self._emit("ADDED", obj)
        if request.send_initial_events and request.allow_bookmarks:
            await self._emit("BOOKMARK", self._bookmark(self._last, initial_end=True))
        deadline = anyio.current_time() + request.timeout_s
        next_bookmark = anyio.current_time() + BOOKMARK_INTERVAL_S
        while anyio.current_time() < deadline:
            self._woken.clear()
            try:
                events, last, full = await self._run(self._read_events)
            except KubeError as error:
                await self._emit("ERROR", error_status(error))
                return
            for kind, obj in events:
                await self._emit(kind, obj)
            self._last = last
            if full:
                continue
            if request.allow_bookmarks and anyio.current_time() >= next_bookmark:
                await self._emit("BOOKMARK", self._bookmark(self._last))
                next_bookmark = anyio.current_time() + BOOKMARK_INTERVAL_S
            until = min(deadline, next_bookmark) if request.allow_bookmarks else deadline
            with anyio.move_on_after(max(until - anyio.current_time(), 0)):
                await self._woken.wait()

    def _read_events(self) -> tuple[list[tuple[str, dict[str, Any]]], int, bool]:
        """In a worker thread: the events after the last revision sent, the revision reached, and whether
        the read was full (more may follow at once)."""
        request = self._request
        changes = self._objects.changes(
            request.cluster_id, request.resource, request.namespace or None, self._last, CHANGES_PER_READ
        )
        events = [e for e in (self._stream.event(c, self._matched_before) for c in changes) if e is not None]
        last = changes[-1].revision if changes else self._last
        return events, last, len(changes) == CHANGES_PER_READ

    def _matched_before(self, change: Change) -> bool:
        if not self._filtered:
            return True
        assert change.prev_revision is not None
        before = self._objects.state_at(self._request.cluster_id, change.key, change.prev_revision)
        return before is not None and self._stream.matches(before)

    async def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        shown = obj
        if self._table and kind not in ("BOOKMARK", "ERROR"):
            revision = str(obj["metadata"].get("resourceVersion", ""))
            shown = tables.table(self._request.resource.kind, [obj], self._now(), resource_version=revision)
        line = orjson.dumps({"type": kind, "object": shown}) + b"\n"
        await self._send({"type": "http.response.body", "body": line, "more_body": True})

    def _bookmark(self, revision: int, *, initial_end: bool = False) -> dict[str, Any]:
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        resource = self._request.resource
        return {"kind": resource.kind, "apiVersion": resource.group_version, "metadata": metadata}

"""The Kubernetes API's HTTP handlers for one cluster: authentication, authorization, discovery, OpenAPI,
and the verbs on resources — translation only; the rules are in ``services/kube`` and ``control/kube``.

```
request ─▶ /version /healthz /livez /readyz: public
        ─▶ Bearer k8s-aws-v1.… (api/kube/authn) ─▶ the principal's access entry (services/kube/access)
           no token, a bad one, no entry: 401 Status Unauthorized
        ─▶ discovery (/api, /apis, /api/v1, /apis/<g>/<v>), /openapi/v3…: allowed_path, else 403
        ─▶ resource paths (api/kube/paths): verb → control/kube/authz.allowed, else 403 Status Forbidden
           GET: get | list (Table when asked) | watch (api/kube/watch); POST: create | subresources;
           PUT: update; PATCH: the four patch types; DELETE: delete | deletecollection
        ─▶ pods/log (get) and pods/exec (a websocket GET: get, as kube 1.33 checks; SPDY's POST: create)
           → the pod's node's kubelet (api/kube/pod_locations, api/kube/node_proxy)
```
Store work runs in worker threads (a limiter of :data:`STORE_THREADS`), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import orjson
import yaml
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from dockyard.api.kube import paths, pod_locations, responses
from dockyard.api.kube.authn import TokenRejectedError, authenticate_token
from dockyard.api.kube.node_proxy import NodeProxy
from dockyard.api.kube.paths import ResourceRequest, UnknownResource
from dockyard.api.kube.watch import WatchRequest, serve_watch
from dockyard.api.principals import KeyResolver
from dockyard.control.kube import authz, discovery, openapi, tables
from dockyard.control.kube.catalog import by_gvr
from dockyard.control.kube.decoding import WARN
from dockyard.control.kube.errors import BadRequestError, KubeError
from dockyard.core import kube_streams
from dockyard.core.clock import Clock
from dockyard.services.kube.access import KubeAccess, Subject
from dockyard.services.kube.objects import DeleteOptions, KubeObjects, WriteOptions
from dockyard.services.kube.subresources import KubeSubresources
from dockyard.store import eks as eks_store
from dockyard.store.database import Database

if TYPE_CHECKING:
    from dockyard.api.kube.app import KubeCluster

T = TypeVar("T")

STORE_THREADS = 8
MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver refuses request bodies over 3 MiB
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz", "/version/"})
_UNAUTHORIZED = KubeError("Unauthorized", reason="Unauthorized", code=401)
_NODES = by_gvr("", "v1", "nodes")
EXEC_SUBPROTOCOLS = (kube_streams.V5_PROTOCOL, kube_streams.V4_PROTOCOL)


class KubeHandlers:
    def __init__(
        self,
        cluster: KubeCluster,
        objects: KubeObjects,
        access: KubeAccess,
        keys: KeyResolver,
        *,
        clock: Clock,
        limiter: anyio.CapacityLimiter | None = None,
        db: Database | None = None,
    ) -> None:
        self.cluster = cluster
        self._objects = objects
        self._subresources = KubeSubresources(objects)
        self._access = access
        self._keys = keys
        self._clock = clock
        self._limiter = limiter or anyio.CapacityLimiter(STORE_THREADS)
        self._nodes: NodeProxy | None = None
        """Logs and exec, with the cluster's CA from ``db`` (without one they answer 503)."""
        if db is not None:

            def pki() -> eks_store.ClusterPki | None:
                with db.read() as conn:
                    return eks_store.cluster_pki(conn, cluster.id)

            self._nodes = NodeProxy(pki, now=clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope.get("path", "/")
        try:
            if path in PUBLIC_PATHS:
                await self._public(path, send)
                return
            subject = await self._authenticate(scope)
            await self._route(scope, receive, send, path, subject)
        except KubeError as error:
            await responses.send_error(send, error)

    async def _public(self, path: str, send: Send) -> None:
        if path.startswith("/version"):
            await responses.send_json(send, 200, discovery.version_info())
        else:
            await responses.send_text(send, 200, "ok")

    async def _authenticate(self, scope: Scope) -> Subject:
        header = _header(scope, b"authorization")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _UNAUTHORIZED
        now = self._clock()
        try:
            identity = await self._run(
                lambda: authenticate_token(
                    token.strip(), cluster_name=self.cluster.name, now=now, lookup_key=self._keys.find
                )
            )
        except TokenRejectedError:
            raise _UNAUTHORIZED from None
        subject = await self._run(lambda: self._access.subject(self.cluster.id, identity.principal.arn))
        if subject is None:
            raise _UNAUTHORIZED
        return subject

    async def _route(self, scope: Scope, receive: Receive, send: Send, path: str, subject: Subject) -> None:
        method = str(scope.get("method", "GET")).upper()
        target = paths.parse(path)
        if target is None:
            await self._non_resource(scope, send, path, method, subject)
            return
        if isinstance(target, UnknownResource):
            await responses.send_text(send, 404, "404 page not found")
            return
        query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
        watch = _flag(query.get("watch"))
        verb = paths.verb(method, target, watch=watch)
        self._authorize(subject, verb, target)
        await self._serve(scope, receive, send, target, query, method, verb)

    def _authorize(self, subject: Subject, verb: str, target: ResourceRequest) -> None:
        resource = target.resource
        if not authz.allowed(
            subject.grants,
            verb,
            resource.group,
            resource.plural,
            target.subresource or None,
            target.namespace or None,
        ):
            raise KubeError(
                authz.forbidden_message(
                    user=subject.username,
                    verb=verb,
                    api_group=resource.group,
                    resource=resource.plural,
                    subresource=target.subresource or None,
                    name=target.name or None,
                    namespace=target.namespace or None,
                ),
                reason="Forbidden",
                code=403,
                details={"name": target.name, "group": resource.group, "kind": resource.plural}
                if resource.group
                else {"name": target.name, "kind": resource.plural},
            )

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: ResourceRequest,
        query: QueryParams,
        method: str,
        verb: str,
    ) -> None:
        resource = target.resource
        if (
            resource.namespaced
            and not target.namespace
            and not (method in ("GET", "HEAD") and target.collection)
        ):
            raise _no_such_resource()
        if not resource.namespaced and target.namespace:
            raise _no_such_resource()
        if target.subresource and target.subresource not in {s.name for s in resource.subresources}:
            raise _no_such_resource()
        if method in ("GET", "HEAD") and target.subresource == "log":
            await self._logs(receive, send, target, query)
            return
        if target.subresource == "exec" and method in ("GET", "POST"):
            # A plain GET, or SPDY's POST upgrade (kubectl's fallback when the websocket failed): the
            # same checks, then kube-apiserver's refusal of a request this server cannot upgrade.
            self._node_proxy("exec")
            await self._run(lambda: self._exec_location(target, query))
            raise BadRequestError("Upgrade request required" if method == "GET" else _SPDY_REFUSED)
        if method in ("GET", "HEAD"):
            if verb == "watch":
                await serve_watch(
                    scope,
                    receive,
                    send,
                    WatchRequest.from_query(self.cluster.id, target, query),
                    self._objects,
                    run=self._run,
                    table=responses.wants_table(_header(scope, b"accept")),
                    now=self._clock,
                )
            elif target.collection:
                await self._list(scope, send, target, query)
            else:
                await self._get(scope, send, target, query)
            return
        body = await _read_body(receive)
        if method == "POST":
            await self._post(scope, send, target, query, body)
        elif method == "PUT":
            await self._put(scope, send, target, query, body)
        elif method == "PATCH":
            await self._patch(scope, send, target, query, body)
        elif method == "DELETE":
            await self._delete(send, target, query, body)
        else:
            raise _method_not_allowed()

    # --- discovery and OpenAPI ---------------------------------------------------------------------------

    async def _non_resource(self, scope: Scope, send: Send, path: str, method: str, subject: Subject) -> None:
        if method != "GET":
            raise _method_not_allowed()
        if not authz.allowed_path(subject.grants, path):
            raise KubeError(
                authz.forbidden_path_message(user=subject.username, verb="get", path=path),
                reason="Forbidden",
                code=403,
            )
        mode, content_type = discovery.negotiate(_header(scope, b"accept"))
        document: Any = None
        normalized = path.rstrip("/") or "/"
        if normalized == "/api":
            if mode == "aggregated":
                document = discovery.aggregated_core(content_type)
            else:
                document, content_type = (
                    discovery.api_versions(self.cluster.endpoint.removeprefix("https://")),
                    responses.JSON,
                )
        elif normalized == "/apis":
            if mode == "aggregated":
                document = discovery.aggregated_groups(content_type)
            else:
                document, content_type = discovery.api_group_list(), responses.JSON
        elif normalized == "/api/v1":
            document, content_type = discovery.api_resource_list("", "v1"), responses.JSON
        elif normalized.startswith("/apis/") and normalized.count("/") == 3:
            _, _, group, version = normalized.split("/")
            document, content_type = discovery.api_resource_list(group, version), responses.JSON
        elif normalized.startswith("/apis/") and normalized.count("/") == 2:
            group = normalized.split("/")[2]
            listed = [g for g in discovery.api_group_list()["groups"] if g["name"] == group]
            document, content_type = (
                ({"kind": "APIGroup", "apiVersion": "v1", **listed[0]} if listed else None),
                responses.JSON,
            )
        elif normalized == "/openapi/v3":
            document, content_type = openapi.index(), responses.JSON
        elif normalized.startswith("/openapi/v3/"):
            document, content_type = (
                openapi.document_for_path(normalized.removeprefix("/openapi/v3/")),
                responses.JSON,
            )
        if document is None:
            await responses.send_text(send, 404, "404 page not found")
            return
        await responses.send_json(send, 200, document, content_type=content_type)

    # --- reads ----------------------------------------------------------------------------------------------

    async def _get(self, scope: Scope, send: Send, target: ResourceRequest, query: QueryParams) -> None:
        if target.subresource in ("attach", "portforward", "proxy"):
            raise KubeError(
                f"the {target.subresource} subresource is not served by this cluster yet",
                reason="ServiceUnavailable",
                code=503,
            )
        if target.subresource == "scale":
            obj = await self._run(
                lambda: self._subresources.get_scale(
                    self.cluster.id, target.resource, target.namespace, target.name
                )
            )
        else:
            obj = await self._run(
                lambda: self._objects.get(self.cluster.id, target.resource, target.namespace, target.name)
            )
        if responses.wants_table(_header(scope, b"accept")) and not target.subresource:
            document = tables.table(
                target.resource.kind,
                [obj],
                self._clock(),
                resource_version=str(obj["metadata"].get("resourceVersion", "")),
                include_object=query.get("includeObject") or "Metadata",
            )
            await responses.send_json(send, 200, document, content_type=responses.TABLE_CONTENT_TYPE)
            return
        await responses.send_json(send, 200, obj)

    async def _list(self, scope: Scope, send: Send, target: ResourceRequest, query: QueryParams) -> None:
        limit = _int(query, "limit")
        listing = await self._run(
            lambda: self._objects.list_objects(
                self.cluster.id,
                target.resource,
                target.namespace or None,
                label_selector=query.get("labelSelector") or "",
                field_selector=query.get("fieldSelector") or "",
                limit=limit,
                continue_token=query.get("continue") or "",
            )
        )
        resource = target.resource
        if responses.wants_table(_header(scope, b"accept")):
            document = tables.table(
                resource.kind,
                listing.items,
                self._clock(),
                resource_version=listing.resource_version,
                include_object=query.get("includeObject") or "Metadata",
                continue_token=listing.continue_token,
            )
            await responses.send_json(send, 200, document, content_type=responses.TABLE_CONTENT_TYPE)
            return
        metadata: dict[str, Any] = {"resourceVersion": listing.resource_version}
        if listing.continue_token:
            metadata["continue"] = listing.continue_token
        if listing.remaining_item_count is not None:
            metadata["remainingItemCount"] = listing.remaining_item_count
        await responses.send_json(
            send,
            200,
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.group_version,
                "metadata": metadata,
                "items": listing.items,
            },
        )

    # --- writes ---------------------------------------------------------------------------------------------

    def _write_options(self, scope: Scope, query: QueryParams, *, apply: bool = False) -> WriteOptions:
        dry_run = query.getlist("dryRun")
        if any(value != "All" for value in dry_run):
            raise BadRequestError(f'dryRun: Unsupported value: "{dry_run[0]}": supported values: "All"')
        manager = query.get("fieldManager") or ""
        if not manager:
            if apply:
                raise KubeError(
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch",
                    reason="Invalid",
                    code=422,
                )
            manager = _header(scope, b"user-agent").split("/", 1)[0] or "unknown"
        if len(manager) > 128:
            raise KubeError(
                "fieldManager: Too long: may not be more than 128 bytes", reason="Invalid", code=422
            )
        return WriteOptions(
            manager=manager,
            dry_run=bool(dry_run),
            field_validation=query.get("fieldValidation") or WARN,
            force=_flag(query.get("force")),
        )

    async def _post(
        self,
        scope: Scope,
        send: Send,
        target: ResourceRequest,
        query: QueryParams,
        body: bytes,
    ) -> None:
        options = self._write_options(scope, query)
        document = _json(body)
        resource = target.resource
        if target.subresource == "binding":
            await self._run(
                lambda: self._subresources.bind(
                    self.cluster.id, target.namespace, target.name, document, options
                )
            )
            await responses.send_json(send, 201, responses.status_object(201, "", "", success=True))
            return
        if target.subresource == "eviction":
            await self._run(
                lambda: self._subresources.evict(self.cluster.id, target.namespace, target.name, document)
            )
            await responses.send_json(send, 201, responses.status_object(201, "", "", success=True))
            return
        if target.name or target.subresource:
            raise _method_not_allowed()
        written = await self._run(
            lambda: self._objects.create(self.cluster.id, resource, target.namespace, document, options)
        )
        await responses.send_json(send, 201, written.obj, warnings=written.warnings)

    async def _put(
        self,
        scope: Scope,
        send: Send,
        target: ResourceRequest,
        query: QueryParams,
        body: bytes,
    ) -> None:
        options = self._write_options(scope, query)
        document = _json(body)
        if target.subresource == "scale":
            obj = await self._run(
                lambda: self._subresources.update_scale(
                    self.cluster.id, target.resource, target.namespace, target.name, document, options
                )
            )
            await responses.send_json(send, 200, obj)
            return
        subresource = target.subresource if target.subresource in ("status", "finalize") else ""
        written = await self._run(
            lambda: self._objects.update(
                self.cluster.id,
                target.resource,
                target.namespace,
                target.name,
                document,
                options,
                subresource=subresource,
            )
        )
        await responses.send_json(
            send, 201 if written.created else 200, written.obj, warnings=written.warnings
        )

    async def _patch(
        self,
        scope: Scope,
        send: Send,
        target: ResourceRequest,
        query: QueryParams,
        body: bytes,
    ) -> None:
        content_type = _header(scope, b"content-type")
        apply = content_type.split(";", 1)[0].strip().lower() == "application/apply-patch+yaml"
        options = self._write_options(scope, query, apply=apply)
        if target.subresource == "scale":
            obj = await self._run(
                lambda: self._subresources.patch_scale(
                    self.cluster.id,
                    target.resource,
                    target.namespace,
                    target.name,
                    content_type,
                    body,
                    options,
                )
            )
            await responses.send_json(send, 200, obj)
            return
        written = await self._run(
            lambda: self._objects.patch(
                self.cluster.id,
                target.resource,
                target.namespace,
                target.name,
                content_type,
                body,
                options,
                subresource=target.subresource,
            )
        )
        await responses.send_json(
            send, 201 if written.created else 200, written.obj, warnings=written.warnings
        )

    async def _delete(self, send: Send, target: ResourceRequest, query: QueryParams, body: bytes) -> None:
        options = _delete_options(query, body)
        resource = target.resource
        if target.collection:
            deleted = await self._run(
                lambda: self._objects.delete_collection(
                    self.cluster.id,
                    resource,
                    target.namespace or None,
                    options,
                    label_selector=query.get("labelSelector") or "",
                    field_selector=query.get("fieldSelector") or "",
                )
            )
            listing = {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.group_version,
                "metadata": {},
                "items": deleted,
            }
            await responses.send_json(send, 200, listing)
            return
        obj, removed = await self._run(
            lambda: self._objects.delete(self.cluster.id, resource, target.namespace, target.name, options)
        )
        if not removed:
            await responses.send_json(send, 202 if not options.dry_run else 200, obj)
        elif resource.kind == "Pod":
            await responses.send_json(send, 200, obj)
        else:
            details: dict[str, Any] = {
                "name": target.name,
                "kind": resource.plural,
                "uid": obj["metadata"].get("uid"),
            }
            if resource.group:
                details["group"] = resource.group
            await responses.send_json(send, 200, responses.status_object(200, "", "", details, success=True))

    # --- logs and exec (the pod's kubelet) --------------------------------------------------------------

    def _node_proxy(self, subresource: str) -> NodeProxy:
        if self._nodes is None:
            raise KubeError(
                f"the {subresource} subresource is not served by this cluster yet",
                reason="ServiceUnavailable",
                code=503,
            )
        return self._nodes

    def _pod_and_node(self, target: ResourceRequest) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The pod (404 as a GET) and its node's object (``None`` while unscheduled). Store I/O."""
        pod = self._objects.get(self.cluster.id, target.resource, target.namespace, target.name)
        node_name = pod_locations.node_name(pod)
        if not node_name or _NODES is None:
            return pod, None
        return pod, self._objects.get(self.cluster.id, _NODES, "", node_name)

    def _log_location(
        self, target: ResourceRequest, query: QueryParams
    ) -> pod_locations.KubeletLocation | None:
        pod, node = self._pod_and_node(target)
        container = pod_locations.log_container(pod, query.get("container") or "")
        if node is None:
            return None  # kube-apiserver answers an unscheduled pod's logs with an empty body
        values = {key: query.getlist(key) for key in query}
        return pod_locations.log_location(pod, node, container, values)

    def _exec_location(self, target: ResourceRequest, query: QueryParams) -> pod_locations.KubeletLocation:
        request = pod_locations.exec_request({key: query.getlist(key) for key in query})
        pod, node = self._pod_and_node(target)
        container = pod_locations.exec_container(pod, query.get("container") or "")
        if node is None:
            raise BadRequestError(f"pod {target.name} does not have a host assigned")
        return pod_locations.exec_location(pod, node, container, request)

    async def _logs(self, receive: Receive, send: Send, target: ResourceRequest, query: QueryParams) -> None:
        proxy = self._node_proxy("log")
        location = await self._run(lambda: self._log_location(target, query))
        if location is None:
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await proxy.stream_logs(location, target.name, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A websocket upgrade: ``pods/exec`` only. Refusals before the handshake are HTTP answers (a
        Status), on which kubectl falls back to SPDY and shows the same Status from that attempt."""
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            subject = await self._authenticate(scope)
            target = paths.parse(scope.get("path", "/"))
            if not isinstance(target, ResourceRequest):
                raise _no_such_resource()
            if target.resource.kind != "Pod" or target.subresource not in ("exec", "attach"):
                raise KubeError(
                    "Upgrade request not supported for this resource", reason="BadRequest", code=400
                )
            self._authorize(subject, "get", target)  # a websocket is a GET: kube 1.33 checks "get"
            if target.subresource == "attach" or not target.namespace or not target.name:
                raise KubeError(
                    "the attach subresource is not served by this cluster yet",
                    reason="ServiceUnavailable",
                    code=503,
                )
            proxy = self._node_proxy("exec")
            query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            location = await self._run(lambda: self._exec_location(target, query))
            protocol = kube_streams.negotiate(scope.get("subprotocols") or (), EXEC_SUBPROTOCOLS)
            if protocol is None:
                raise BadRequestError(
                    "unable to upgrade connection: no supported stream protocol requested "
                    f"(supports {' '.join(EXEC_SUBPROTOCOLS)})"
                )
        except KubeError as error:
            body = orjson.dumps(responses.error_status(error))
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "websocket.http.response.start", "status": error.code, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "websocket.accept", "subprotocol": protocol})
        await proxy.relay_exec(location, protocol, receive, send)

    async def _run(self, call: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)


_SPDY_REFUSED = (
    "unable to upgrade connection: this server streams exec over websockets only "
    "(v5.channel.k8s.io, v4.channel.k8s.io), not SPDY/3.1"
)


def _no_such_resource() -> KubeError:
    return KubeError("the server could not find the requested resource", reason="NotFound", code=404)


def _method_not_allowed() -> KubeError:
    return KubeError(
        "the server does not allow this method on the requested resource", reason="MethodNotAllowed", code=405
    )


# --- request parts -----------------------------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "")


def _int(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequestError(f"invalid value for {name}: {raw!r}") from None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise KubeError("the client went away", reason="BadRequest", code=400)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise KubeError(
                "the request entity is too large: limit is 3145728", reason="RequestEntityTooLarge", code=413
            )
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequestError("the body of the request was empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(body)
    except yaml.YAMLError:
        raise BadRequestError(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml"
        ) from None


def _delete_options(query: QueryParams, body: bytes) -> DeleteOptions:
    document: dict[str, Any] = {}
    if body.strip():
        parsed = _json(body)
        if isinstance(parsed, dict):
            document = parsed
    grace = document.get("gracePeriodSeconds")
    if query.get("gracePeriodSeconds") not in (None, ""):
        grace = _int(query, "gracePeriodSeconds")
    policy = query.get("propagationPolicy") or document.get("propagationPolicy")
    if policy is None and document.get("orphanDependents") is not None:
        policy = "Orphan" if document["orphanDependents"] else "Background"
    if policy not in (None, "Foreground", "Background", "Orphan"):
        raise BadRequestError(f'propagationPolicy: Unsupported value: "{policy}"')
    preconditions = document.get("preconditions") or {}
    dry_run = query.getlist("dryRun") or list(document.get("dryRun") or [])
    return DeleteOptions(
        grace_period_seconds=None if grace is None else max(int(grace), 0),
        propagation_policy=policy,
        uid=preconditions.get("uid"),
        resource_version=preconditions.get("resourceVersion"),
        dry_run=bool(dry_run),
    )

"""The Kubernetes objects of EKS clusters: what kube-apiserver's generic registry does, over store/kube.

One method per verb (get, list, create, update, patch, delete, delete_collection, changes), each one
store transaction, each raising :class:`~dockyard.control.kube.errors.KubeError` with kube-apiserver's
reason, code and message. The rules are pure and live in ``control/kube``: ``meta`` (metadata on create,
update and delete), ``validation``, ``decoding`` (unknown fields and ``fieldValidation``), ``patch`` and
``managed_fields`` (server-side apply). After every committed write the cluster's subscribers are woken
(the watches and the controllers), with no data: they read the change log from their last revision.

Used by the HTTP layer (``api/kube``) for users, kubelets and the scheduler alike, and in-process by the
Kubernetes controllers.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import Connection

from dockyard.control.kube import managed_fields, meta
from dockyard.control.kube.catalog import Resource, require
from dockyard.control.kube.controllers import namespaces
from dockyard.control.kube.controllers.ipalloc import kubernetes_service_ip
from dockyard.control.kube.controllers.kubernetes_service import kubernetes_service
from dockyard.control.kube.decoding import WARN, decode
from dockyard.control.kube.errors import BadRequestError, KubeError
from dockyard.control.kube.fields import parse_field_selector
from dockyard.control.kube.patch import APPLY_PATCH, PATCH_TYPES, apply_patch
from dockyard.control.kube.selectors import parse_label_selector
from dockyard.control.kube.validation import validate_object
from dockyard.core.clock import Clock, IdFactory, random_uuid
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.services.kube.admission import admit_create
from dockyard.store import kube as store
from dockyard.store.database import Database

Obj = dict[str, Any]

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # kube's utilrand alphabet: no vowels, no look-alikes
_LIST_CHUNK = 500
SYSTEM_NAMESPACES = tuple(sorted(namespaces.IMMORTAL))
NAMESPACES = require("", "v1", "namespaces")


def random_name_suffix() -> str:
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class WriteOptions:
    manager: str
    """The field manager (``fieldManager``, else derived from the user agent by the HTTP layer)."""
    dry_run: bool = False
    field_validation: str = WARN
    force: bool = False


@dataclass(frozen=True, slots=True)
class Written:
    obj: Obj
    warnings: tuple[str, ...] = ()
    created: bool = False


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[Obj]
    resource_version: str
    continue_token: str
    remaining_item_count: int | None = None
    """How many objects the later pages hold: known only without selectors (kube-apiserver's rule, as
    etcd counts keys), else None."""


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


# --- errors in kube-apiserver's words ----------------------------------------------------------------------


def _details(resource: Resource, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def _qualified(resource: Resource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def not_found(resource: Resource, name: str) -> KubeError:
    return KubeError(
        f'{_qualified(resource)} "{name}" not found',
        reason="NotFound",
        code=404,
        details=_details(resource, name),
    )


def already_exists(resource: Resource, name: str) -> KubeError:
    return KubeError(
        f'{_qualified(resource)} "{name}" already exists',
        reason="AlreadyExists",
        code=409,
        details=_details(resource, name),
    )


def conflict(resource: Resource, name: str, why: str | None = None) -> KubeError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return KubeError(
        f'Operation cannot be fulfilled on {_qualified(resource)} "{name}": {why}',
        reason="Conflict",
        code=409,
        details=_details(resource, name),
    )


def expired(message: str) -> KubeError:
    return KubeError(message, reason="Expired", code=410)


_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


# --- continue tokens ---------------------------------------------------------------------------------------


def encode_continue(revision: int, namespace: str, name: str) -> str:
    raw = json.dumps(
        {"v": "meta.k8s.io/v1", "rv": revision, "start": [namespace, name]}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        revision, start = int(raw["rv"]), raw["start"]
        return revision, (str(start[0]), str(start[1]))
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as error:
        raise BadRequestError(f"continue key is not valid: {error}") from None


class KubeObjects:
    """The verbs over every served resource of every cluster (clusters by their store id)."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        notifier: InstanceNotifier | None = None,
        new_uid: IdFactory = random_uuid,
        name_suffix: Callable[[], str] = random_name_suffix,
    ) -> None:
        self._db = db
        self._clock = clock
        self.notifier = notifier or InstanceNotifier()
        self._new_uid = new_uid
        self._name_suffix = name_suffix

    # --- set-up ---------------------------------------------------------------------------------------------

    def bootstrap(self, cluster_id: int) -> None:
        """Give a cluster its store and the objects every cluster has (idempotent)."""
        with self._write(cluster_id) as conn:
            store.start_cluster(conn, cluster_id)
            for name in SYSTEM_NAMESPACES:
                if store.get_object(conn, cluster_id, _key(NAMESPACES, "", name)) is None:
                    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                    self._create_in(conn, cluster_id, NAMESPACES, "", body, WriteOptions("kube-apiserver"))
            services = require("", "v1", "services")
            if store.get_object(conn, cluster_id, _key(services, "default", "kubernetes")) is None:
                body = kubernetes_service(kubernetes_service_ip())
                self._create_in(conn, cluster_id, services, "default", body, WriteOptions("kube-apiserver"))

    def clock(self) -> datetime:
        return self._clock()

    # --- reads ----------------------------------------------------------------------------------------------

    def get(self, cluster_id: int, resource: Resource, namespace: str, name: str) -> Obj:
        with self._db.read() as conn:
            found = store.get_object(conn, cluster_id, _key(resource, namespace, name))
        if found is None:
            raise not_found(resource, name)
        return found.value

    def list_objects(
        self,
        cluster_id: int,
        resource: Resource,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int | None = None,
        continue_token: str = "",
    ) -> Listing:
        """A LIST: objects by namespace then name; with ``limit``, a page and a continue token whose pages
        are one snapshot (410 Expired once it is compacted)."""
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, group=resource.group, kind=resource.kind)
        if limit is not None and limit <= 0:
            limit = None
        after: tuple[str, str] | None = None
        at_revision: int | None = None
        if continue_token:
            at_revision, after = decode_continue(continue_token)
        items: list[Obj] = []
        with self._db.read() as conn:
            revision = at_revision
            while True:
                try:
                    page = store.list_objects(
                        conn,
                        cluster_id,
                        resource.group,
                        resource.plural,
                        namespace=namespace or None,
                        after=after,
                        limit=_LIST_CHUNK if limit is None else max(limit - len(items), 1),
                        at_revision=revision,
                    )
                except store.CompactedError:
                    raise expired(_CONTINUE_EXPIRED) from None
                revision = page.revision
                for stored in page.items:
                    after = (stored.key.namespace, stored.key.name)
                    value = stored.value
                    if labels.matches((value.get("metadata") or {}).get("labels")) and fields.matches_object(
                        value
                    ):
                        items.append(value)
                if not page.more:
                    return Listing(items, str(revision), "")
                if limit is not None and len(items) >= limit:
                    assert after is not None
                    remaining = None
                    if labels.empty and not field_selector.strip():
                        remaining = store.count_objects(
                            conn,
                            cluster_id,
                            resource.group,
                            resource.plural,
                            namespace=namespace or None,
                            after=after,
                            at_revision=revision,
                        )
                    return Listing(items, str(revision), encode_continue(revision, *after), remaining)

    def state_at(self, cluster_id: int, key: store.ObjectKey, revision: int) -> Obj | None:
        """An object as it was at ``revision`` (None if it did not exist then)."""
        with self._db.read() as conn:
            return store.state_at(conn, cluster_id, key, revision)

    def revision(self, cluster_id: int) -> int:
        with self._db.read() as conn:
            return store.revisions(conn, cluster_id)[0]

    def changes(
        self,
        cluster_id: int,
        resource: Resource,
        namespace: str | None,
        after_revision: int,
        limit: int = 500,
    ) -> list[store.Change]:
        """The watch feed of one resource (in one namespace); 410 Expired once compacted."""
        with self._db.read() as conn:
            try:
                return store.changes(
                    conn,
                    cluster_id,
                    after_revision,
                    api_group=resource.group,
                    resource=resource.plural,
                    namespace=namespace or None,
                    limit=limit,
                )
            except store.CompactedError as error:
                raise expired(f"too old resource version: {after_revision} ({error.compacted})") from None

    # --- writes ---------------------------------------------------------------------------------------------

    def create(
        self, cluster_id: int, resource: Resource, namespace: str, body: Obj, options: WriteOptions
    ) -> Written:
        with self._write(cluster_id, dry_run=options.dry_run) as conn:
            return self._create_in(conn, cluster_id, resource, namespace, body, options)

    def update(
        self,
        cluster_id: int,
        resource: Resource,
        namespace: str,
        name: str,
        body: Obj,
        options: WriteOptions,
        *,
        subresource: str = "",
    ) -> Written:
        with self._write(cluster_id, dry_run=options.dry_run) as conn:
            live = self._live(conn, cluster_id, resource, namespace, name)
            wanted = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
            if wanted and str(wanted) != live["metadata"].get("resourceVersion"):
                raise conflict(resource, name)
            return self._replace_in(conn, cluster_id, resource, live, body, options, subresource=subresource)

    def patch(
        self,
        cluster_id: int,
        resource: Resource,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        options: WriteOptions,
        *,
        subresource: str = "",
    ) -> Written:
        """A PATCH of any of the four types; an apply patch creates the object when it does not exist."""
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in PATCH_TYPES:
            raise KubeError(
                f"the server responded with the status code 415 but did not return more information "
                f"(unsupported patch type {content_type})",
                reason="UnsupportedMediaType",
                code=415,
            )
        with self._write(cluster_id, dry_run=options.dry_run) as conn:
            found = store.get_object(conn, cluster_id, _key(resource, namespace, name))
            now = rfc3339(self._clock())
            if media == APPLY_PATCH:
                config = _apply_configuration(body)
                _check_apply_target(resource, config, name)
                if found is None:
                    if subresource:
                        raise not_found(resource, name)
                    applied = managed_fields.apply(
                        None, config, manager=options.manager, now=now, force=options.force
                    )
                    applied.setdefault("metadata", {})["name"] = name
                    managers = applied["metadata"].pop("managedFields", None)
                    return self._create_in(
                        conn, cluster_id, resource, namespace, applied, options, managed=managers
                    )
                new = managed_fields.apply(
                    found.value,
                    config,
                    manager=options.manager,
                    now=now,
                    force=options.force,
                    subresource=subresource,
                )
                return self._replace_in(
                    conn,
                    cluster_id,
                    resource,
                    found.value,
                    new,
                    options,
                    subresource=subresource,
                    keep_managed=True,
                )
            if found is None:
                raise not_found(resource, name)
            patched = apply_patch(
                content_type, found.value, body, api_version=resource.group_version, kind=resource.kind
            )
            wanted = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted and str(wanted) != found.value["metadata"].get("resourceVersion"):
                raise conflict(resource, name)  # a patch naming a resourceVersion is a precondition
            return self._replace_in(
                conn, cluster_id, resource, found.value, patched, options, subresource=subresource
            )

    def delete(
        self, cluster_id: int, resource: Resource, namespace: str, name: str, options: DeleteOptions
    ) -> tuple[Obj, bool]:
        """DELETE: ``(object, removed)`` — the object as removed, or as marked for deletion."""
        with self._write(cluster_id, dry_run=options.dry_run) as conn:
            return self._delete_in(conn, cluster_id, resource, namespace, name, options)

    def delete_collection(
        self,
        cluster_id: int,
        resource: Resource,
        namespace: str | None,
        options: DeleteOptions,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[Obj]:
        listing = self.list_objects(
            cluster_id, resource, namespace, label_selector=label_selector, field_selector=field_selector
        )
        deleted = []
        for item in listing.items:
            metadata = item["metadata"]
            try:
                obj, _ = self.delete(
                    cluster_id, resource, metadata.get("namespace", ""), metadata["name"], options
                )
            except KubeError as error:
                if error.code == 404:
                    continue
                raise
            deleted.append(obj)
        return deleted

    def write_raw(
        self, cluster_id: int, resource: Resource, obj: Obj, *, manager: str, dry_run: bool = False
    ) -> Obj:
        """Store ``obj`` as given over the live object it was read from (its resourceVersion): for the
        system's own writes that change spec and status together, such as a pod's binding."""
        metadata = obj["metadata"]
        key = _key(resource, metadata.get("namespace", ""), metadata["name"])
        with self._write(cluster_id, dry_run=dry_run) as conn:
            live = self._live(conn, cluster_id, resource, key.namespace, key.name)
            new = managed_fields.update(live, obj, manager=manager, now=rfc3339(self._clock()))
            try:
                stored = store.update_object(
                    conn, cluster_id, key, new, expected_revision=int(metadata["resourceVersion"])
                )
            except store.ConflictError:
                raise conflict(resource, key.name) from None
            return stored.value

    # --- inside a transaction -------------------------------------------------------------------------------

    def _create_in(
        self,
        conn: Connection,
        cluster_id: int,
        resource: Resource,
        namespace: str,
        body: Obj,
        options: WriteOptions,
        *,
        managed: Any = None,
    ) -> Written:
        decoded = decode(
            body,
            group=resource.group,
            version=resource.version,
            kind=resource.kind,
            field_validation=options.field_validation,
        )
        now = rfc3339(self._clock())
        given = decoded.obj.get("metadata")
        wants_name = isinstance(given, dict) and not given.get("name") and bool(given.get("generateName"))
        obj = meta.prepare_create(
            resource,
            decoded.obj,
            namespace=namespace,
            now=now,
            uid=self._new_uid(),
            name_suffix=self._name_suffix() if wants_name else "",
        )
        if resource.namespaced:
            self._check_namespace_accepts(conn, cluster_id, resource, namespace, obj["metadata"]["name"])
        validate_object(resource, obj)
        obj = admit_create(conn, cluster_id, resource, obj)
        if managed is not None:
            obj["metadata"]["managedFields"] = managed
        else:
            obj = managed_fields.update(None, obj, manager=options.manager, now=now)
        name = obj["metadata"]["name"]
        try:
            stored = store.create_object(conn, cluster_id, _key(resource, namespace, name), obj)
        except store.AlreadyExistsError:
            raise already_exists(resource, name) from None
        return Written(stored.value, tuple(decoded.warnings()), created=True)

    def _replace_in(
        self,
        conn: Connection,
        cluster_id: int,
        resource: Resource,
        live: Obj,
        body: Any,
        options: WriteOptions,
        *,
        subresource: str = "",
        keep_managed: bool = False,
    ) -> Written:
        if not isinstance(body, dict):
            raise BadRequestError("the body of the request was in an unknown format")
        decoded = decode(
            body,
            group=resource.group,
            version=resource.version,
            kind=resource.kind,
            field_validation=options.field_validation,
        )
        new = meta.prepare_update(resource, live, decoded.obj, subresource=subresource)
        validate_object(resource, new, live)
        if not keep_managed:
            new = managed_fields.update(
                live, new, manager=options.manager, now=rfc3339(self._clock()), subresource=subresource
            )
        metadata = live["metadata"]
        key = _key(resource, metadata.get("namespace", ""), metadata["name"])
        expected = int(metadata["resourceVersion"])
        if _same(live, new):
            return Written(live, tuple(decoded.warnings()))  # kube writes nothing for a no-op update
        try:
            if meta.finished_deleting(new):
                stored = store.delete_object(conn, cluster_id, key, expected_revision=expected, value=new)
            else:
                stored = store.update_object(conn, cluster_id, key, new, expected_revision=expected)
        except store.ConflictError:
            raise conflict(resource, metadata["name"]) from None
        except store.NotFoundError:
            raise not_found(resource, metadata["name"]) from None
        return Written(stored.value, tuple(decoded.warnings()))

    def _delete_in(
        self,
        conn: Connection,
        cluster_id: int,
        resource: Resource,
        namespace: str,
        name: str,
        options: DeleteOptions,
    ) -> tuple[Obj, bool]:
        live = self._live(conn, cluster_id, resource, namespace, name)
        metadata = live["metadata"]
        if options.uid and options.uid != metadata.get("uid"):
            raise conflict(
                resource,
                name,
                f"Precondition failed: UID in precondition: {options.uid}, "
                f"UID in object meta: {metadata.get('uid')}",
            )
        if options.resource_version and options.resource_version != metadata.get("resourceVersion"):
            raise conflict(
                resource,
                name,
                f"Precondition failed: ResourceVersion in precondition: {options.resource_version}, "
                f"ResourceVersion in object meta: {metadata.get('resourceVersion')}",
            )
        if resource.kind == "Namespace":
            namespaces.check_delete(name)
        decision = meta.decide_delete(
            resource,
            live,
            now=rfc3339(self._clock()),
            grace_period_seconds=options.grace_period_seconds,
            propagation_policy=options.propagation_policy,
        )
        key = _key(resource, namespace, name)
        expected = int(metadata["resourceVersion"])
        try:
            if decision.remove_now:
                return store.delete_object(conn, cluster_id, key, expected_revision=expected).value, True
            assert decision.marked is not None
            if _same(live, decision.marked):
                return live, False
            return store.update_object(
                conn, cluster_id, key, decision.marked, expected_revision=expected
            ).value, False
        except store.ConflictError:
            raise conflict(resource, name) from None

    def _live(self, conn: Connection, cluster_id: int, resource: Resource, namespace: str, name: str) -> Obj:
        found = store.get_object(conn, cluster_id, _key(resource, namespace, name))
        if found is None:
            raise not_found(resource, name)
        return found.value

    def _check_namespace_accepts(
        self, conn: Connection, cluster_id: int, resource: Resource, namespace: str, name: str
    ) -> None:
        found = store.get_object(conn, cluster_id, _key(NAMESPACES, "", namespace))
        namespaces.check_create(
            namespace,
            None if found is None else found.value,
            resource=resource.plural,
            name=name,
            group=resource.group,
        )

    @contextmanager
    def _write(self, cluster_id: int, *, dry_run: bool = False) -> Iterator[Connection]:
        """One write transaction; a dry run rolls back what it did, a commit wakes the subscribers."""
        if dry_run:
            with self._db.write() as conn:
                nested = conn.begin_nested()
                try:
                    yield conn
                finally:
                    nested.rollback()
            return
        with self._db.write() as conn:
            yield conn
        self.notifier.notify([str(cluster_id)])


def _apply_configuration(body: bytes) -> dict[str, Any]:
    """The apply patch's YAML (or JSON, which is YAML) as an object."""
    try:
        config = yaml.safe_load(body)
    except yaml.YAMLError as error:
        raise BadRequestError(f"error decoding YAML: {error}") from None
    if not isinstance(config, dict):
        raise BadRequestError("error decoding YAML: the apply configuration must be an object")
    return config


def _check_apply_target(resource: Resource, body: Mapping[str, Any], name: str) -> None:
    meta.check_type(resource, dict(body))
    given = (body.get("metadata") or {}).get("name")
    if given and given != name:
        raise BadRequestError(f"the name of the object ({given}) does not match the name on the URL ({name})")


def _same(live: Obj, new: Obj) -> bool:
    """Whether an update changes nothing but the managedFields' times (kube then skips the write)."""

    def strip(obj: Obj) -> Obj:
        copy = dict(obj)
        copy["metadata"] = {
            k: v
            for k, v in (obj.get("metadata") or {}).items()
            if k not in ("managedFields", "resourceVersion")
        }
        return copy

    if strip(live) != strip(new):
        return False
    before = [
        {k: v for k, v in m.items() if k != "time"} for m in live["metadata"].get("managedFields") or []
    ]
    after = [{k: v for k, v in m.items() if k != "time"} for m in new["metadata"].get("managedFields") or []]
    return before == after


def _key(resource: Resource, namespace: str, name: str) -> store.ObjectKey:
    return store.ObjectKey(resource.group, resource.plural, namespace if resource.namespaced else "", name)

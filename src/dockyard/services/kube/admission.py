"""What kube-apiserver's admission and REST storage add to a new object before it is stored.

- Service: a ClusterIP (and node ports) allocated against every other Service of the cluster
  (``control/kube/controllers/ipalloc``), inside the creating transaction, so two creates never get one
  address.
- Pod: ``spec.serviceAccountName`` defaults to ``default`` (the ServiceAccount admission), and the
  not-ready/unreachable NoExecute tolerations of 300 s are added (DefaultTolerationSeconds).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection

from dockyard.control.kube.catalog import Resource
from dockyard.control.kube.controllers.ipalloc import allocate_service
from dockyard.control.kube.controllers.nodes import default_tolerations
from dockyard.store import kube as store

Obj = dict[str, Any]


def admit_create(conn: Connection, cluster_id: int, resource: Resource, obj: Obj) -> Obj:
    if resource.group == "" and resource.plural == "services":
        return _allocate(conn, cluster_id, obj)
    if resource.group == "" and resource.plural == "pods":
        spec = obj.setdefault("spec", {})
        spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        return default_tolerations(obj)
    return obj


def _allocate(conn: Connection, cluster_id: int, service: Obj) -> Obj:
    used_ips: set[str] = set()
    used_ports: set[int] = set()
    for stored in store.list_objects(conn, cluster_id, "", "services").items:
        spec = stored.value.get("spec") or {}
        used_ips.update(ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None")
        used_ports.update(int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort"))
    allocated = allocate_service(service, used_ips, used_ports, seed=secrets.token_hex(8))
    return {**service, "spec": allocated}

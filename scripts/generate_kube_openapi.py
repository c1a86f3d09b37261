#!/usr/bin/env python3
"""Generate src/dockyard/control/kube/data/openapi_v1.33.json.gz: OpenAPI v3 component schemas.

Source: the JSON Schemas PyPI's ``kubernetes-validate`` bundles for Kubernetes v1.33.0 (``-local``
variant, generated from kube-apiserver's OpenAPI document; they keep descriptions and the
``x-kubernetes-*`` extensions). This keeps only the served kinds and their transitive references, and
turns the JSON Schema spellings back into OpenAPI's: ``type: [T, "null"]`` → ``type: T``, ``$ref`` to
``#/components/schemas/…``, and drops the ``enum`` kubernetes-validate adds to ``apiVersion``/``kind``.

    .venv/bin/pip install kubernetes-validate==1.37.0
    .venv/bin/python scripts/generate_kube_openapi.py
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any

ROOTS = [
    "io.k8s.api.core.v1." + k
    for k in (
        "Namespace",
        "Node",
        "Pod",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Event",
        "Service",
        "Endpoints",
        "Binding",
    )
] + [
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.apps.v1.ReplicaSet",
    "io.k8s.api.apps.v1.DaemonSet",
    "io.k8s.api.batch.v1.Job",
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.discovery.v1.EndpointSlice",
    "io.k8s.api.events.v1.Event",
    "io.k8s.api.autoscaling.v1.Scale",
    "io.k8s.api.policy.v1.Eviction",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
]
OUT = Path(__file__).resolve().parent.parent / "src/dockyard/control/kube/data/openapi_v1.33.json.gz"


def convert(node: Any, refs: set[str]) -> Any:
    if isinstance(node, list):
        return [convert(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            name = value.rsplit("/", 1)[-1]
            refs.add(name)
            out[key] = "#/components/schemas/" + name
        elif key == "type" and isinstance(value, list):
            kept = [t for t in value if t != "null"]
            out[key] = kept[0] if len(kept) == 1 else kept
        elif key == "properties":
            out[key] = {
                prop: {
                    k: v
                    for k, v in convert(schema, refs).items()
                    if not (prop in ("apiVersion", "kind") and k == "enum")
                }
                for prop, schema in value.items()
            }
        else:
            out[key] = convert(value, refs)
    return out


def main() -> None:
    base = (
        resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / "v1.33.0-local"
        / "_definitions.json"
    )
    defs = json.loads(base.read_text())["$defs"]
    schemas: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in schemas:
            continue
        refs: set[str] = set()
        schemas[name] = convert(defs[name], refs)
        pending.extend(sorted(refs - schemas.keys()))
    data = json.dumps(dict(sorted(schemas.items())), sort_keys=True, separators=(",", ":")).encode()
    OUT.write_bytes(gzip.compress(data, mtime=0))
    print(f"{len(schemas)} schemas, {len(data)} bytes, {OUT.stat().st_size} gzipped")


if __name__ == "__main__":
    main()

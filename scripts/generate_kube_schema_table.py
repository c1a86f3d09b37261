#!/usr/bin/env python3
"""Generate src/dockyard/control/kube/data/schema_table.json from Kubernetes' own schemas.

The table holds, for every type of the Kubernetes API, only what merging needs: which fields are
objects (and of which type), lists or maps, and their extensions — ``x-kubernetes-patch-strategy`` and
``x-kubernetes-patch-merge-key`` (strategic merge patch), ``x-kubernetes-list-type``,
``x-kubernetes-list-map-keys`` and ``x-kubernetes-map-type`` (server-side apply) — plus the type each
group/version/kind starts at. Descriptions, enums and formats are dropped, which takes 4 MB of schema
down to about 100 KB.

The source is the JSON Schema set that the PyPI package ``kubernetes-validate`` bundles (generated from
kube-apiserver's OpenAPI document of the same release; the ``-local`` variant, whose references stay
inside one ``_definitions.json``). It is needed only to regenerate the table:

    .venv/bin/pip install kubernetes-validate==1.37.0
    .venv/bin/python scripts/generate_kube_schema_table.py            # Kubernetes v1.33.0 by default
    .venv/bin/python scripts/generate_kube_schema_table.py --version v1.34.0

The output is deterministic (sorted keys), so a regeneration from the same release is a no-op diff.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_VERSION = "v1.33.0"
OUTPUT = Path(__file__).resolve().parent.parent / "src/dockyard/control/kube/data/schema_table.json"
_REF_PREFIX = "#/$defs/"
_EVERY_GROUPS_KINDS = frozenset({"DeleteOptions", "WatchEvent"})
"""Kinds every group version lists (the meta/v1 types); they are not objects anyone patches."""


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _ref(schema: dict[str, Any]) -> str | None:
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith(_REF_PREFIX):
        return reference[len(_REF_PREFIX) :]
    return None


def _field(schema: dict[str, Any]) -> dict[str, Any]:
    """The compact entry of one property; empty for a plain scalar."""
    entry: dict[str, Any] = {}
    types = _types(schema)
    if "array" in types or "items" in schema:
        entry["type"] = "list"
        item = schema.get("items") or {}
        if reference := _ref(item):
            entry["items"] = reference
        if "x-kubernetes-list-type" in schema:
            entry["listType"] = schema["x-kubernetes-list-type"]
        if "x-kubernetes-list-map-keys" in schema:
            entry["listMapKeys"] = schema["x-kubernetes-list-map-keys"]
    elif isinstance(schema.get("additionalProperties"), dict):
        entry["type"] = "map"
        value = schema["additionalProperties"]
        if reference := _ref(value):
            entry["values"] = reference
        elif "array" in _types(value):
            entry["values"] = "list"
    elif reference := _ref(schema):
        entry["ref"] = reference
    if "x-kubernetes-patch-strategy" in schema:
        entry["patchStrategy"] = schema["x-kubernetes-patch-strategy"]
    if "x-kubernetes-patch-merge-key" in schema:
        entry["patchMergeKey"] = schema["x-kubernetes-patch-merge-key"]
    if "x-kubernetes-map-type" in schema:
        entry["mapType"] = schema["x-kubernetes-map-type"]
    return entry


def build_table(definitions: dict[str, Any], version: str) -> dict[str, Any]:
    types: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for name, definition in sorted(definitions.items()):
        fields = {}
        for prop, schema in sorted((definition.get("properties") or {}).items()):
            if entry := _field(schema):
                fields[prop] = entry
        compact: dict[str, Any] = {}
        if fields:
            compact["fields"] = fields
        if "x-kubernetes-map-type" in definition:
            compact["mapType"] = definition["x-kubernetes-map-type"]
        if compact:
            types[name] = compact
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if gvk["kind"] in _EVERY_GROUPS_KINDS:
                continue
            group_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            kinds[f"{group_version}/{gvk['kind']}"] = name
    return {
        "source": f"kubernetes-validate, kubernetes-json-schema/{version}-local/_definitions.json",
        "kubernetesVersion": version,
        "kinds": kinds,
        "types": types,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", default=DEFAULT_VERSION, help="Kubernetes release, e.g. v1.33.0")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args()
    schemas = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"{arguments.version}-local"
    definitions = json.loads((schemas / "_definitions.json").read_text())["$defs"]
    table = build_table(definitions, arguments.version)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(table, indent=0, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{arguments.output}: {len(table['types'])} types, {len(table['kinds'])} kinds")


if __name__ == "__main__":
    main()

"""Field selectors (control/kube/fields.py): syntax, the per-kind field labels and their messages, matching.

Cases follow the Kubernetes documentation ("Field Selectors": supported fields per kind, the
``foo.bar=baz`` error) and kube-apiserver's conversion functions and registry strategies.
"""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.control.kube.errors import SelectorError
from dockyard.control.kube.fields import (
    FieldRequirement,
    escape_value,
    parse_field_selector,
    selectable_fields,
    supported_fields,
)


def pod(name: str, *, node: str | None = None, phase: str = "Pending", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": "Always", **spec},
        "status": {"phase": phase},
    }
    if node is not None:
        body["spec"]["nodeName"] = node
    return body


PODS = [
    pod("running-a", node="a", phase="Running"),
    pod("running-b", node="b", phase="Running", restartPolicy="Never"),
    pod("pending", phase="Pending"),
    pod("host", node="a", phase="Running", hostNetwork=True),
]


def names(selector: str, objects: list[dict[str, Any]], *, group: str = "", kind: str = "Pod") -> list[str]:
    parsed = parse_field_selector(selector, group=group, kind=kind)
    return [obj["metadata"]["name"] for obj in objects if parsed.matches_object(obj)]


def error_of(selector: str, *, group: str = "", kind: str = "Pod") -> str:
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(selector, group=group, kind=kind)
    assert caught.value.code == 400
    return caught.value.message


# ── Syntax ──────────────────────────────────────────────────────────────────────────────────────────


def test_the_documented_examples() -> None:
    assert names("status.phase=Running", PODS) == ["running-a", "running-b", "host"]
    assert names("status.phase!=Running,spec.restartPolicy=Always", PODS) == ["pending"]


def test_double_equals_is_equals() -> None:
    assert names("spec.nodeName==a", PODS) == names("spec.nodeName=a", PODS) == ["running-a", "host"]


def test_an_unset_field_reads_as_empty() -> None:
    assert names("spec.nodeName=", PODS) == ["pending"]
    assert names("spec.nodeName!=", PODS) == ["running-a", "running-b", "host"]


def test_the_empty_selector_selects_everything() -> None:
    assert parse_field_selector("", kind="Pod").empty
    assert names("", PODS) == [obj["metadata"]["name"] for obj in PODS]


def test_empty_terms_are_skipped() -> None:
    assert names(",status.phase=Pending,", PODS) == ["pending"]


def test_terms_are_sorted_and_double_equals_printed_as_equals() -> None:
    assert str(parse_field_selector("status.phase==Running,spec.nodeName=a", kind="Pod")) == (
        "spec.nodeName=a,status.phase=Running"
    )


def test_a_term_splits_at_its_first_operator() -> None:
    selector = parse_field_selector("metadata.name!=a", kind="ConfigMap")
    assert selector.requirements == (FieldRequirement("metadata.name", "!=", "a"),)


def test_escaped_commas_and_equals_are_part_of_the_value() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d", kind="ConfigMap")
    assert selector.requirements[0].value == "a,b=c\\d"
    assert escape_value("a,b=c\\d") == r"a\,b\=c\\d"


def test_a_term_without_an_operator() -> None:
    assert error_of("status.phase") == "invalid selector: 'status.phase'; can't understand 'status.phase'"


def test_unescaped_and_invalid_escapes() -> None:
    assert error_of("metadata.name=a=b") == "invalid field selector: unescapedRune character in value: 61"
    assert error_of(r"metadata.name=a\x") == "invalid field selector: invalid escape sequence: \\x"
    assert error_of("metadata.name=a\\") == "invalid field selector: invalid escape sequence: \\"


# ── Field labels per kind ───────────────────────────────────────────────────────────────────────────


def test_an_unsupported_pod_field() -> None:
    assert error_of("foo=bar") == "field label not supported: foo"


def test_a_kind_without_its_own_fields_names_the_two_it_has() -> None:
    # The documentation's example: kubectl get ingress --field-selector foo.bar=baz
    assert error_of("foo.bar=baz", group="networking.k8s.io", kind="Ingress") == (
        '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    assert error_of("spec.replicas=1", group="apps", kind="Deployment").startswith('"spec.replicas" is not')


def test_jobs_word_it_their_own_way() -> None:
    assert error_of("status.failed=1", group="batch", kind="Job") == (
        'field label "status.failed" not supported for Job'
    )


def test_cluster_scoped_kinds_do_not_take_a_namespace() -> None:
    assert error_of("metadata.namespace=x", kind="Node") == "field label not supported: metadata.namespace"
    assert (
        error_of("metadata.namespace=x", kind="Namespace") == "field label not supported: metadata.namespace"
    )


def test_the_first_bad_label_in_sorted_order_is_reported() -> None:
    assert error_of("zzz=1,aaa=2") == "field label not supported: aaa"


@pytest.mark.parametrize(
    ("group", "kind", "label"),
    [
        ("", "Pod", "spec.serviceAccountName"),
        ("", "Pod", "spec.schedulerName"),
        ("", "Pod", "status.podIP"),
        ("", "Pod", "status.podIPs"),
        ("", "Pod", "status.nominatedNodeName"),
        ("", "Event", "involvedObject.kind"),
        ("", "Event", "involvedObject.fieldPath"),
        ("", "Event", "reason"),
        ("", "Event", "source"),
        ("", "Event", "type"),
        ("", "Event", "reportingComponent"),
        ("", "Secret", "type"),
        ("", "Node", "spec.unschedulable"),
        ("", "Namespace", "status.phase"),
        ("", "Service", "spec.clusterIP"),
        ("", "ReplicationController", "status.replicas"),
        ("batch", "Job", "status.successful"),
        ("apps", "ReplicaSet", "status.replicas"),
        ("", "ConfigMap", "metadata.namespace"),
    ],
)
def test_documented_supported_fields(group: str, kind: str, label: str) -> None:
    assert label in supported_fields(group=group, kind=kind)
    parse_field_selector(f"{label}=x", group=group, kind=kind)


def test_spec_host_is_the_old_name_of_spec_node_name() -> None:
    selector = parse_field_selector("spec.host=a", kind="Pod")
    assert selector.requirements == (FieldRequirement("spec.nodeName", "=", "a"),)
    assert names("spec.host=a", PODS) == ["running-a", "host"]


def test_pod_ips_is_accepted_but_never_matches_an_address() -> None:
    running = pod("p", phase="Running")
    running["status"]["podIPs"] = [{"ip": "10.0.0.1"}]
    assert names("status.podIPs=10.0.0.1", [running]) == []
    assert names("status.podIP=10.0.0.1", [running]) == ["p"]


# ── Selectable values ───────────────────────────────────────────────────────────────────────────────


def test_booleans_read_true_or_false_even_when_unset() -> None:
    assert names("spec.hostNetwork=true", PODS) == ["host"]
    assert names("spec.hostNetwork=false", PODS) == ["running-a", "running-b", "pending"]
    nodes = [{"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}, {"metadata": {"name": "n2"}}]
    assert names("spec.unschedulable=false", nodes, kind="Node") == ["n2"]


def test_a_job_is_selected_by_its_succeeded_count() -> None:
    jobs = [
        {"metadata": {"name": "done", "namespace": "d"}, "status": {"succeeded": 1}},
        {"metadata": {"name": "new", "namespace": "d"}, "status": {}},
    ]
    assert names("status.successful=1", jobs, group="batch", kind="Job") == ["done"]
    assert names("status.successful=0", jobs, group="batch", kind="Job") == ["new"]


def test_an_events_source_falls_back_to_its_reporting_component() -> None:
    events = [
        {"metadata": {"name": "a"}, "source": {"component": "kubelet"}},
        {"metadata": {"name": "b"}, "reportingComponent": "kubelet"},
        {"metadata": {"name": "c"}, "source": {"component": "scheduler"}},
    ]
    assert names("source=kubelet", events, kind="Event") == ["a", "b"]


def test_events_of_one_object() -> None:
    events = [
        {"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "web"}, "type": "Warning"},
        {"metadata": {"name": "e2"}, "involvedObject": {"kind": "Pod", "name": "db"}, "type": "Normal"},
    ]
    selector = "involvedObject.kind=Pod,involvedObject.name=web"
    assert names(selector, events, kind="Event") == ["e1"]
    assert names("type!=Normal", events, kind="Event") == ["e1"]


def test_events_k8s_io_uses_regarding() -> None:
    events = [{"metadata": {"name": "e"}, "regarding": {"name": "web"}, "reportingController": "kubelet"}]
    assert names("regarding.name=web", events, group="events.k8s.io", kind="Event") == ["e"]
    assert names("reportingController=kubelet", events, group="events.k8s.io", kind="Event") == ["e"]


def test_namespace_and_name_of_a_secret() -> None:
    secret = {"metadata": {"name": "s", "namespace": "ns"}, "type": "kubernetes.io/tls"}
    assert selectable_fields(secret, kind="Secret") == {
        "metadata.name": "s",
        "metadata.namespace": "ns",
        "type": "kubernetes.io/tls",
    }


def test_exact_returns_an_equality_on_a_field() -> None:
    selector = parse_field_selector("metadata.name=web,metadata.namespace!=kube-system", kind="Pod")
    assert selector.exact("metadata.name") == "web"
    assert selector.exact("metadata.namespace") is None

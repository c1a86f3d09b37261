"""EKS's pure parts: rest-json routing, the cluster status decisions, scaling/selector rules, the CA."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography import x509

from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.protocol.rest_json_protocol import parse_rest_json_request, query_values
from dockyard.control.controllers.decide.eks import ClusterState, PartState, UpdateState, decide
from dockyard.core.errors import UnknownOperationError, ValidationError
from dockyard.services.eks import rules
from dockyard.services.eks.certificates import certificate_authority_data, issue_cluster_pki
from dockyard.services.eks.errors import InvalidParameterException, ResourceLimitExceededException

CATALOG = ServiceCatalog(["eks"])
ROUTER = CATALOG.rest_router("eks")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "path", "operation", "labels"),
    [
        ("GET", "/clusters", "ListClusters", {}),
        ("POST", "/clusters", "CreateCluster", {}),
        ("GET", "/clusters/web", "DescribeCluster", {"name": "web"}),
        ("GET", "/clusters/web/updates", "ListUpdates", {"name": "web"}),
        ("POST", "/clusters/web/updates", "UpdateClusterVersion", {"name": "web"}),
        (
            "POST",
            "/clusters/web/node-groups/ng/update-config",
            "UpdateNodegroupConfig",
            {"name": "web", "nodegroupName": "ng"},
        ),
        (
            "DELETE",
            "/clusters/w/access-entries/arn%3Aaws%3Aiam%3A%3A1%3Auser%2Fbob/access-policies/"
            "arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSViewPolicy",
            "DisassociateAccessPolicy",
            {
                "name": "w",
                "principalArn": "arn:aws:iam::1:user/bob",
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            },
        ),
    ],
)
def test_routes_by_method_and_uri_template(
    method: str, path: str, operation: str, labels: dict[str, str]
) -> None:
    assert ROUTER is not None
    match = ROUTER.match(method, path, {})
    assert (match.operation.name, match.labels) == (operation, labels)


def test_unknown_paths_and_methods_are_404() -> None:
    assert ROUTER is not None
    for method, path in [("GET", "/nothing"), ("PATCH", "/clusters/web"), ("GET", "/clusters/a/b/c/d/e/f")]:
        with pytest.raises(UnknownOperationError) as caught:
            ROUTER.match(method, path, {})
        assert caught.value.status == 404


def test_members_come_from_labels_query_and_body_and_are_validated() -> None:
    assert ROUTER is not None
    match = ROUTER.match("GET", "/clusters/web/node-groups", {})
    params = parse_rest_json_request(match.operation, match.labels, query_values("maxResults=7"), [], b"")
    assert params == {"clusterName": "web", "maxResults": 7}
    untag = ROUTER.match("DELETE", "/tags/arn", {})
    got = parse_rest_json_request(untag.operation, untag.labels, query_values("tagKeys=a&tagKeys=b"), [], b"")
    assert got == {"resourceArn": "arn", "tagKeys": ["a", "b"]}
    with pytest.raises(ValidationError, match="maxResults"):
        parse_rest_json_request(match.operation, match.labels, query_values("maxResults=500"), [], b"")
    create = ROUTER.match("POST", "/clusters", {})
    with pytest.raises(ValidationError, match="roleArn"):
        parse_rest_json_request(create.operation, {}, {}, [], b'{"name": "x", "resourcesVpcConfig": {}}')


def test_cluster_becomes_active_once_its_endpoint_is_ready_and_parts_follow() -> None:
    assert decide(ClusterState("CREATING", endpoint_ready=False)).empty
    actions = decide(ClusterState("CREATING", endpoint_ready=True))
    assert actions.cluster_status == "ACTIVE"
    parts = decide(
        ClusterState(
            "ACTIVE",
            True,
            nodegroups=[PartState("a", "CREATING"), PartState("b", "DELETING"), PartState("c", "ACTIVE")],
            fargate_profiles=[PartState("f", "CREATING")],
        )
    )
    assert parts.nodegroup_status == {"a": "ACTIVE"}
    assert parts.remove_nodegroups == ("b",)
    assert parts.profile_status == {"f": "ACTIVE"}
    assert not parts.remove_cluster


def test_version_update_completes_and_deleting_cluster_goes_when_empty() -> None:
    actions = decide(
        ClusterState(
            "UPDATING",
            True,
            updates_in_progress=[UpdateState("u1", None, "VersionUpdate", {"Version": "1.33"})],
        )
    )
    assert (actions.cluster_status, actions.cluster_version, actions.completed_updates) == (
        "ACTIVE",
        "1.33",
        ("u1",),
    )
    assert not decide(ClusterState("DELETING", True, nodegroups=[PartState("a", "ACTIVE")])).remove_cluster
    assert decide(ClusterState("DELETING", True, nodegroups=[PartState("a", "DELETING")])).remove_cluster
    assert decide(ClusterState("DELETING", True)).remove_cluster


def test_scaling_rules_as_eks_reports_them() -> None:
    assert rules.check_scaling(None).as_config() == {"minSize": 1, "maxSize": 2, "desiredSize": 2}
    with pytest.raises(InvalidParameterException, match=r"minSize can.t be greater than desiredSize"):
        rules.check_scaling({"minSize": 3, "maxSize": 5, "desiredSize": 2})
    with pytest.raises(InvalidParameterException, match="desiredSize can't be greater than maxSize"):
        rules.check_scaling({"minSize": 1, "maxSize": 2, "desiredSize": 3})
    with pytest.raises(
        InvalidParameterException, match="Minimum capacity 8 can't be greater than desired size 4"
    ):
        rules.check_scaling({"minSize": 8, "maxSize": 16}, {"minSize": 4, "maxSize": 8, "desiredSize": 4})


def test_fargate_selectors_versions_and_ports() -> None:
    assert rules.check_selectors([{"namespace": "default"}]) == [{"namespace": "default", "labels": {}}]
    with pytest.raises(InvalidParameterException):
        rules.check_selectors([{"namespace": f"n{i}"} for i in range(6)])
    with pytest.raises(InvalidParameterException):
        rules.check_selectors([{"labels": {"a": "b"}}])
    assert rules.check_version(None) == "1.33"
    with pytest.raises(InvalidParameterException, match=r"unsupported Kubernetes version 1\.29"):
        rules.check_version("1.29")
    with pytest.raises(InvalidParameterException):
        rules.check_version_upgrade("1.30", "1.32")
    rules.check_version_upgrade("1.32", "1.33")
    assert rules.allocate_port({10, 11}, (10, 12)) == 12
    with pytest.raises(ResourceLimitExceededException):
        rules.allocate_port({10, 11, 12}, (10, 12))


def test_each_cluster_gets_a_ca_that_signed_its_serving_certificate() -> None:
    pki = issue_cluster_pki("web", NOW)
    ca = x509.load_pem_x509_certificate(base64.b64decode(certificate_authority_data(pki.ca_cert_pem)))
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    serving = x509.load_pem_x509_certificate(pki.serving_cert_pem.encode())
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "BEGIN PRIVATE KEY" in pki.ca_key_pem and "BEGIN PRIVATE KEY" in pki.serving_key_pem
    assert issue_cluster_pki("web", NOW).ca_cert_pem != pki.ca_cert_pem

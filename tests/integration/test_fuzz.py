"""Model-driven fuzzing: random but typed requests for every implemented ECS, ECR, STS, EC2 and Cost
Explorer operation.

Requests are generated from botocore's own input shapes (required members nearly always, optional ones at
random, values of the member's type: names from a small pool so calls hit resources that exist, ARNs,
enum values and their near misses, boundary numbers, odd strings), signed and sent by a botocore client
with its own validation off. Whatever they say, the server must answer with a client error or success:
never a 5xx, never a traceback in its log. The seed is fixed, so a failure names a reproducible request.
"""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape

from dockyard.services.base import operation_method_name
from dockyard.services.ce.provider import CeProvider
from dockyard.services.ec2.provider import Ec2Provider
from dockyard.services.ecr.provider import EcrProvider
from dockyard.services.ecs.provider import EcsProvider
from dockyard.services.sts.provider import StsProvider
from dockyard.store import usage as ledger
from dockyard.store.database import open_database
from tests.integration.conftest import REGION, ROOT_KEY_ID, ROOT_SECRET, ServerProcess

SEED = 20261206
REQUESTS = 3000
PROVIDERS = {"ecs": EcsProvider, "ecr": EcrProvider, "sts": StsProvider, "ec2": Ec2Provider, "ce": CeProvider}
NAMES = ("web", "api", "default", "fuzz-a", "fuzz-b", "x")
ODD_STRINGS = (
    "",
    " ",
    "a" * 300,
    "a" * 5000,
    "名前",
    "../../etc/passwd",
    "%00",
    "\u0000",
    "*",
    "a:b:c",
    "arn:aws:ecs:us-east-1:000000000000:cluster/other",
    "((a+)+)+b",
    'attribute:x =~ "(a|aa)*c"',
    "sha256:" + "0" * 64,
    "sha256:zz",
    "latest",
    "-1",
    "true",
)
INTEGERS = (0, 1, -1, 2, 10, 100, 101, 1000, 2**31 - 1, -(2**31), 2**53)
MANIFEST = (
    '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType":'
    ' "application/vnd.oci.image.config.v1+json", "size": 2, "digest": "sha256:'
    + "4" * 64
    + '"}, "layers": []}'
)
# Valid requests for the operations whose inputs random values rarely get right: half of their calls start
# from one of these, with one member replaced by a random value of its type, so the fuzz reaches past
# validation into placement, state changes and the registry.
TEMPLATES: dict[str, dict[str, Any]] = {
    "RegisterTaskDefinition": {
        "family": "web",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "busybox",
                "memory": 64,
                "portMappings": [{"containerPort": 80, "hostPort": 0}],
                "dependsOn": [],
                "healthCheck": {"command": ["CMD-SHELL", "true"]},
            }
        ],
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
    },
    "RunTask": {
        "cluster": "default",
        "taskDefinition": "web",
        "count": 2,
        "placementStrategy": [{"type": "spread", "field": "instanceId"}],
        "placementConstraints": [{"type": "distinctInstance"}],
        "overrides": {"containerOverrides": [{"name": "app", "command": ["sh"], "memory": 32}]},
        "tags": [{"key": "k", "value": "v"}],
    },
    "StartTask": {"cluster": "default", "taskDefinition": "web", "containerInstances": ["x"]},
    "CreateService": {
        "cluster": "default",
        "serviceName": "web",
        "taskDefinition": "web",
        "desiredCount": 2,
        "deploymentConfiguration": {
            "minimumHealthyPercent": 50,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
        "placementStrategy": [{"type": "binpack", "field": "memory"}],
        "propagateTags": "SERVICE",
        "tags": [{"key": "k", "value": "v"}],
    },
    "UpdateService": {"cluster": "default", "service": "web", "desiredCount": 3, "forceNewDeployment": True},
    "DeleteService": {"cluster": "default", "service": "web", "force": True},
    "RegisterContainerInstance": {
        "cluster": "default",
        "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]},
        ],
        "attributes": [{"name": "ecs.os-type", "value": "linux"}],
        "versionInfo": {"agentVersion": "1.80.0"},
    },
    "PutAttributes": {
        "cluster": "default",
        "attributes": [{"name": "stack", "value": "prod", "targetId": "x"}],
    },
    "SubmitTaskStateChange": {"cluster": "default", "task": "x", "status": "RUNNING", "containers": []},
    "PutImage": {"repositoryName": "web", "imageManifest": MANIFEST, "imageTag": "v1"},
    "PutLifecyclePolicy": {
        "repositoryName": "web",
        "lifecyclePolicyText": '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", '
        '"countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}',
    },
    "GetCostAndUsage": {
        "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-08"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost", "UsageQuantity"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}, {"Type": "TAG", "Key": "k"}],
        "Filter": {
            "And": [
                {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Container Service"]}},
                {"Tags": {"Key": "k", "Values": ["v"], "MatchOptions": ["EQUALS"]}},
            ]
        },
    },
    "GetDimensionValues": {
        "TimePeriod": {"Start": "2026-11-01T00:00:00Z", "End": "2026-11-02T00:00:00Z"},
        "Dimension": "USAGE_TYPE",
        "SearchString": "Fargate",
        "Context": "COST_AND_USAGE",
    },
    "GetTags": {"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-30"}, "TagKey": "k"},
    "UploadLayerPart": {
        "repositoryName": "web",
        "uploadId": "x",
        "partFirstByte": 0,
        "partLastByte": 3,
        "layerPartBlob": b"data",
    },
}


class RequestGenerator:
    """Typed random values for botocore shapes."""

    def __init__(self, rng: random.Random, account_id: str) -> None:
        self.rng = rng
        self.account_id = account_id

    def params(self, operation: str, shape: Shape | None) -> dict[str, Any]:
        if shape is None:
            return {}
        template = TEMPLATES.get(operation)
        if template is not None and self.rng.random() < 0.5:
            return self.mutated(template, shape)
        return self.structure(shape, depth=0)

    def mutated(self, template: dict[str, Any], shape: Shape) -> dict[str, Any]:
        """A deep copy of ``template`` with one member (at any depth) given a random value or removed."""
        copy: dict[str, Any] = json.loads(json.dumps(template, default=lambda b: b.decode()))
        for key in ("layerPartBlob",):
            if key in template:
                copy[key] = template[key]
        if self.rng.random() < 0.2:
            return copy
        node: Any = copy
        node_shape = shape
        while True:
            if isinstance(node, dict) and node:
                name = self.rng.choice(sorted(node))
                member = node_shape.members[name]  # type: ignore[attr-defined]
                child = node[name]
                if self.rng.random() < 0.5 or not isinstance(child, (dict, list)) or not child:
                    if self.rng.random() < 0.15:
                        del node[name]
                    else:
                        node[name] = self.value(member, name, 1)
                    return copy
                node, node_shape = child, member
            elif isinstance(node, list) and node:
                index = self.rng.randrange(len(node))
                member = node_shape.member  # type: ignore[attr-defined]
                if not isinstance(node[index], dict) or self.rng.random() < 0.3:
                    node[index] = self.value(member, "item", 1)
                    return copy
                node, node_shape = node[index], member
            else:
                return copy

    def value(self, shape: Shape, name: str, depth: int) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self.structure(shape, depth + 1)
        if kind == "list":
            count = self.rng.choice((0, 1, 1, 2, 3))
            return [self.value(shape.member, name, depth + 1) for _ in range(count)]  # type: ignore[attr-defined]
        if kind == "map":
            return {
                self.string(shape.key, "key"): self.value(shape.value, name, depth + 1)  # type: ignore[attr-defined]
                for _ in range(self.rng.choice((0, 1, 2)))
            }
        if kind == "string":
            return self.string(shape, name)
        if kind in ("integer", "long"):
            return self.rng.choice(INTEGERS) if self.rng.random() < 0.3 else self.rng.randint(1, 16)
        if kind in ("float", "double"):
            return self.rng.choice((0.0, -1.5, 1e308, 3.25))
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "timestamp":
            return datetime.fromtimestamp(self.rng.choice((0, 1_700_000_000, 4_000_000_000)), UTC)
        if kind == "blob":
            return self.rng.randbytes(self.rng.choice((0, 1, 16, 300)))
        raise AssertionError(f"unexpected shape type {kind}")

    def structure(self, shape: Shape, depth: int) -> dict[str, Any]:
        required = set(shape.required_members)  # type: ignore[attr-defined]
        result: dict[str, Any] = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            wanted = self.rng.random() < 0.99 if name in required else self.rng.random() < 0.35 / (1 + depth)
            if wanted and depth < 6:
                result[name] = self.value(member, name, depth)
        return result

    def string(self, shape: Shape, name: str) -> str:
        rng = self.rng
        enum = shape.enum
        if enum and rng.random() < 0.85:
            return str(rng.choice(enum))
        roll = rng.random()
        lowered = name.lower()
        if roll < 0.7:
            base = rng.choice(NAMES)
            if "arn" in lowered and rng.random() < 0.6:
                return self.arn(lowered, base)
            if "digest" in lowered:
                return "sha256:" + rng.choice(("0", "a", "f")) * 64
            if lowered in ("taskdefinition", "family"):
                return base + rng.choice(("", ":1", ":2", ":0", ":x"))
            return base
        if roll < 0.88:
            return rng.choice(ODD_STRINGS)
        alphabet = string.ascii_letters + string.digits + "-_./:*=~!@#$%^&()[]{}|\"' "
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))

    def arn(self, member: str, name: str) -> str:
        account = self.account_id if self.rng.random() < 0.8 else "111122223333"
        kind = "container-instance" if "instance" in member else "task" if "task" in member else "cluster"
        if "definition" in member:
            return f"arn:aws:ecs:{REGION}:{account}:task-definition/{name}:1"
        if "repository" in member or ("resource" in member and self.rng.random() < 0.3):
            return f"arn:aws:ecr:{REGION}:{account}:repository/{name}"
        if kind == "cluster":
            return f"arn:aws:ecs:{REGION}:{account}:cluster/{name}"
        return f"arn:aws:ecs:{REGION}:{account}:{kind}/{name}/{self.rng.randbytes(16).hex()}"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc = ServerProcess(tmp_path_factory.mktemp("fuzz"))
    proc.start()
    yield proc
    proc.stop()


def clients(server: ServerProcess) -> dict[str, Any]:
    config = Config(parameter_validation=False, retries={"max_attempts": 0}, read_timeout=30)
    return {
        service: boto3.client(
            service,
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ROOT_KEY_ID,
            aws_secret_access_key=ROOT_SECRET,
            config=config,
        )
        for service in PROVIDERS
    }


def seed_usage(server: ServerProcess, account_id: str) -> None:
    """Usage for Cost Explorer to price: Fargate, Spot, ARM, EC2, tagged or not, stopped or running."""
    db = open_database(f"sqlite:///{server.data_dir / 'dockyard.db'}", migrate=False)
    start = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    rows = [
        ("FARGATE", None, "X86_64", [{"key": "k", "value": "v"}], timedelta(seconds=30)),
        ("FARGATE", "FARGATE_SPOT", "X86_64", [], timedelta(hours=30)),
        ("FARGATE", None, "ARM64", [{"key": "team", "value": "web"}], None),
        ("EC2", None, "X86_64", [{"key": "k", "value": "x"}], timedelta(hours=2)),
    ]
    try:
        with db.write() as tx:
            for index, (launch_type, provider, architecture, tags, runs) in enumerate(rows):
                task_arn = f"arn:aws:ecs:{REGION}:{account_id}:task/default/fuzz{index}"
                ledger.open_usage(
                    tx,
                    account_id=account_id,
                    region=REGION,
                    task_arn=task_arn,
                    cluster_name="default",
                    launch_type=launch_type,
                    capacity_provider=provider,
                    cpu=256 * (index + 1),
                    memory=512 * (index + 1),
                    architecture=architecture,
                    tags=tags,
                    started_at=start + timedelta(hours=index),
                )
                if runs is not None:
                    ledger.close_usage(tx, task_arn, start + timedelta(hours=index) + runs)
    finally:
        db.close()


def implemented_operations(client: Any, service: str) -> list[str]:
    provider = PROVIDERS[service]
    return [
        op
        for op in client.meta.service_model.operation_names
        if callable(getattr(provider, operation_method_name(op), None))
    ]


def test_no_typed_request_gets_a_server_error(fuzz_server: ServerProcess) -> None:
    rng = random.Random(SEED)
    by_service = clients(fuzz_server)
    account_id = by_service["sts"].get_caller_identity()["Account"]
    generator = RequestGenerator(rng, account_id)
    # Some resources to find: the pool's names exist as clusters and repositories from the start.
    for name in NAMES[:4]:
        by_service["ecs"].create_cluster(clusterName=name)
        by_service["ecr"].create_repository(repositoryName=name)
    seed_usage(fuzz_server, account_id)
    operations = [
        (service, op)
        for service, client in by_service.items()
        for op in implemented_operations(client, service)
    ]
    assert len(operations) >= 58  # every implemented operation of the three services takes part
    failures: list[str] = []
    answered = 0
    for _ in range(REQUESTS):
        service, operation = rng.choice(operations)
        client = by_service[service]
        shape = client.meta.service_model.operation_model(operation).input_shape
        params = generator.params(operation, shape)
        method = getattr(client, operation_method_name(operation))
        try:
            response = method(**params)
            status = response["ResponseMetadata"]["HTTPStatusCode"]
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        answered += 1
        if status >= 500:
            failures.append(f"{service}.{operation}({params!r:.600}) -> {status}")
    assert answered == REQUESTS
    assert not failures, "\n".join(failures[:20])
    log = fuzz_server.log()
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 : log.index("Traceback") + 3000]

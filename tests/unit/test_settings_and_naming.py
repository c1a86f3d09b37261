"""Pure parts: settings precedence, ECS naming rules, operation dispatch names."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.core.arn import parse_arn
from dockyard.core.settings import load_settings
from dockyard.services.base import operation_method_name
from dockyard.services.ecs import naming
from dockyard.services.ecs.errors import InvalidParameterException


def test_settings_precedence_default_file_env_flags(tmp_path: Path) -> None:
    config = tmp_path / "dockyard.toml"
    config.write_text('port = 5000\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    assert load_settings().port == 4566
    assert load_settings(config_file=config).port == 5000
    env = {"DOCKYARD_PORT": "6000", "DOCKYARD_DATA_DIR": str(tmp_path / "d")}
    from_env = load_settings(config_file=config, environ=env)
    assert (from_env.port, from_env.host, from_env.data_dir) == (6000, "0.0.0.0", tmp_path / "d")
    flagged = load_settings(config_file=config, environ=env, overrides={"port": 7000, "host": None})
    assert (flagged.port, flagged.host) == (7000, "0.0.0.0")
    assert flagged.resolved_database_url == f"sqlite:///{tmp_path / 'd' / 'dockyard.db'}"


def test_settings_refuse_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    config = tmp_path / "dockyard.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(config_file=config)
    with pytest.raises(ValueError, match="port"):
        load_settings(environ={"DOCKYARD_PORT": "eighty"})


@pytest.mark.parametrize(
    ("operation", "method"),
    [
        ("CreateCluster", "create_cluster"),
        ("GetCallerIdentity", "get_caller_identity"),
        ("ListTagsForResource", "list_tags_for_resource"),
        ("BatchGetImage", "batch_get_image"),
        ("GetDownloadUrlForLayer", "get_download_url_for_layer"),
    ],
)
def test_operation_method_names(operation: str, method: str) -> None:
    assert operation_method_name(operation) == method


def test_cluster_references_resolve_within_account_and_region() -> None:
    resolve = naming.cluster_name_from_reference
    assert resolve(None, region="us-east-1", account_id="111111111111") == "default"
    assert resolve("web_1-a", region="us-east-1", account_id="111111111111") == "web_1-a"
    own = naming.cluster_arn("us-east-1", "111111111111", "web")
    assert resolve(own, region="us-east-1", account_id="111111111111") == "web"
    assert resolve(own, region="us-east-1", account_id="222222222222") is None
    assert resolve(own, region="eu-west-1", account_id="111111111111") is None
    for bad in (
        "bad name",
        "x" * 256,
        "arn:aws:ecs:us-east-1:1:service/web",
        "arn:aws:ecs:us-east-1:1:cluster/",
    ):
        with pytest.raises(InvalidParameterException):
            resolve(bad, region="us-east-1", account_id="111111111111")


def test_arn_parsing() -> None:
    arn = parse_arn("arn:aws:ecs:us-east-1:123456789012:cluster/web")
    assert arn is not None and (arn.service, arn.account_id, arn.resource_type) == (
        "ecs",
        "123456789012",
        "cluster",
    )
    assert str(arn) == "arn:aws:ecs:us-east-1:123456789012:cluster/web"
    assert parse_arn("arn:other:ecs:r:a:cluster/x") is None
    assert parse_arn("cluster/x") is None


def test_boolean_settings_read_common_spellings() -> None:
    assert load_settings(environ={"DOCKYARD_ALLOW_PRIVILEGED": "true"}).allow_privileged is True
    assert load_settings(environ={"DOCKYARD_ALLOW_PRIVILEGED": "0"}).allow_privileged is False
    assert load_settings().allow_privileged is False
    with pytest.raises(ValueError, match="allow_privileged"):
        load_settings(environ={"DOCKYARD_ALLOW_PRIVILEGED": "maybe"})


def test_fargate_pool_settings_default_and_refuse_negative_values() -> None:
    defaults = load_settings()
    assert defaults.fargate_spot_interruption_rate_per_hour == 0.0
    assert defaults.fargate_idle_retire_s == 600.0
    assert defaults.fargate_retire_command is None
    env = {
        "DOCKYARD_FARGATE_SPOT_INTERRUPTION_RATE_PER_HOUR": "2.5",
        "DOCKYARD_FARGATE_IDLE_RETIRE_S": "3",
        "DOCKYARD_FARGATE_RETIRE_COMMAND": "destroy-vm",
    }
    given = load_settings(environ=env)
    assert given.fargate_spot_interruption_rate_per_hour == 2.5
    assert (given.fargate_idle_retire_s, given.fargate_retire_command) == (3.0, "destroy-vm")
    for name in ("FARGATE_SPOT_INTERRUPTION_RATE_PER_HOUR", "FARGATE_IDLE_RETIRE_S"):
        for bad in ("-1", "nan", "inf", "often"):
            with pytest.raises(ValueError, match=name.lower()):
                load_settings(environ={f"DOCKYARD_{name}": bad})


def test_operations_run_inline_are_real_and_implemented() -> None:
    import botocore.session

    from dockyard.services.ecr.provider import EcrProvider
    from dockyard.services.ecs.provider import EcsProvider
    from dockyard.services.sts.provider import StsProvider

    session = botocore.session.get_session()
    for provider in (EcrProvider, EcsProvider, StsProvider):
        model_operations = set(session.get_service_model(provider.service_name).operation_names)
        inline = provider.cpu_only_operations | provider.store_read_operations
        assert inline <= model_operations
        for operation in inline:
            assert callable(getattr(provider, operation_method_name(operation), None)), operation

"""The token the real ``aws eks get-token`` prints, for a key dockyard's credential store issued."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockyard.api.kube.authn import TokenRejectedError, authenticate_token
from dockyard.api.principals import KeyResolver
from dockyard.store.credentials import AccessKey, CredentialStore
from dockyard.store.database import Database

AWS = Path(sys.executable).with_name("aws")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def cli_token(key: AccessKey, cluster: str, tmp_path: Path, **extra_env: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra_env,
    }
    printed = subprocess.run(
        [str(AWS), "eks", "get-token", "--cluster-name", cluster],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    token: str = json.loads(printed.stdout)["status"]["token"]
    return token


@pytest.mark.parametrize("endpoint_env", [{}, {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}])
def test_the_cli_token_names_the_stores_principal(
    db: Database, tmp_path: Path, endpoint_env: dict[str, str]
) -> None:
    store = CredentialStore(db)
    store.ensure_root_key(NOW, None, None)
    key = store.create_key(NOW, account_id=None, user_name="alice")
    keys = KeyResolver(store)
    token = cli_token(key, "demo", tmp_path, **endpoint_env)

    identity = authenticate_token(
        token, cluster_name="demo", now=datetime.now(UTC), lookup_key=keys.find, regions={"us-east-1"}
    )

    assert identity.principal == key.principal
    assert identity.principal.arn.endswith(":user/alice")
    with pytest.raises(TokenRejectedError):
        authenticate_token(token, cluster_name="other", now=datetime.now(UTC), lookup_key=keys.find)

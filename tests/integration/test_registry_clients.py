"""The registry with the real clients: the aws CLI + docker login/push/pull/run, skopeo, oras."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import oras.client
import oras.oci
import pytest

from tests.integration.conftest import Keys, ServerProcess, make_client, run_aws, unique_name
from tests.integration.images import docker_available, docker_import_busybox

pytestmark = pytest.mark.usefixtures("require_docker")


@pytest.fixture(scope="module")
def require_docker() -> None:
    if not docker_available():
        pytest.fail("the Docker engine is not running: scripts/setup installs and starts it")


@pytest.fixture
def registry_host(server: ServerProcess) -> str:
    return f"localhost:{server.port}"


@pytest.fixture
def aws_env(server: ServerProcess, account_keys: Keys, tmp_path: Path) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": account_keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account_keys.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }


@pytest.fixture
def docker_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose docker CLI keeps its login in a private config dir."""
    config = tmp_path / "docker-config"
    config.mkdir()
    return {**os.environ, "DOCKER_CONFIG": str(config)}


def docker(
    env: dict[str, str], *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def password_of(ecr: Any) -> str:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().split(":", 1)[1]


@pytest.fixture
def logged_in(aws_env: dict[str, str], docker_env: dict[str, str], registry_host: str) -> Iterator[None]:
    password = run_aws(aws_env, "ecr", "get-login-password").stdout.strip()
    result = docker(
        docker_env, "login", "--username", "AWS", "--password-stdin", registry_host, stdin=password
    )
    assert "Login Succeeded" in result.stdout
    yield


@pytest.mark.usefixtures("logged_in")
def test_docker_push_pull_run_and_delete(
    aws_env: dict[str, str], docker_env: dict[str, str], registry_host: str
) -> None:
    name = unique_name("busybox")
    repo = json.loads(run_aws(aws_env, "ecr", "create-repository", "--repository-name", name).stdout)[
        "repository"
    ]
    assert repo["repositoryUri"] == f"{registry_host}/{name}"
    image = f"{repo['repositoryUri']}:v1"
    docker_import_busybox(image, marker=name)
    pushed = docker(docker_env, "push", image).stdout
    digest = pushed.split("digest: ", 1)[1].split()[0]

    described = json.loads(run_aws(aws_env, "ecr", "describe-images", "--repository-name", name).stdout)
    assert [(d["imageDigest"], d["imageTags"]) for d in described["imageDetails"]] == [(digest, ["v1"])]

    docker(docker_env, "rmi", image)
    docker(docker_env, "pull", image)
    output = docker(docker_env, "run", "--rm", image, "/bin/cat", "/www/index.html").stdout
    assert output == f"hello from dockyard {name}\n"

    run_aws(aws_env, "ecr", "batch-delete-image", "--repository-name", name, "--image-ids", "imageTag=v1")
    docker(docker_env, "rmi", image)
    failed = docker(docker_env, "pull", image, check=False)
    assert failed.returncode != 0 and "manifest unknown" in (failed.stderr + failed.stdout).lower()


@pytest.mark.usefixtures("logged_in")
def test_docker_push_over_an_immutable_tag_fails_and_keeps_the_old_image(
    aws_env: dict[str, str], docker_env: dict[str, str], registry_host: str
) -> None:
    name = unique_name("frozen")
    run_aws(
        aws_env, "ecr", "create-repository", "--repository-name", name, "--image-tag-mutability", "IMMUTABLE"
    )
    image = f"{registry_host}/{name}:v1"
    docker_import_busybox(image, marker="first")
    first = docker(docker_env, "push", image).stdout.split("digest: ", 1)[1].split()[0]
    docker_import_busybox(image, marker="second")
    failed = docker(docker_env, "push", image, check=False)
    assert failed.returncode != 0
    assert "cannot be overwritten because the tag is immutable" in failed.stderr + failed.stdout
    described = json.loads(run_aws(aws_env, "ecr", "describe-images", "--repository-name", name).stdout)
    assert [d["imageDigest"] for d in described["imageDetails"]] == [first]


def test_skopeo_copies_in_and_between_repositories(
    server: ServerProcess, account_keys: Keys, docker_env: dict[str, str], registry_host: str
) -> None:
    ecr = make_client(server, "ecr", account_keys)
    source, target = unique_name("src"), unique_name("dst")
    for name in (source, target):
        ecr.create_repository(repositoryName=name)
    local = f"dockyard-test/{source}:v1"
    docker_import_busybox(local, marker=source)
    creds = f"AWS:{password_of(ecr)}"
    skopeo = ["skopeo", "--insecure-policy"]
    subprocess.run(
        [
            *skopeo,
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            creds,
            f"docker-daemon:{local}",
            f"docker://{registry_host}/{source}:v1",
        ],
        check=True,
        capture_output=True,
        env=docker_env,
        timeout=300,
    )
    subprocess.run(
        [
            *skopeo,
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            creds,
            "--dest-creds",
            creds,
            f"docker://{registry_host}/{source}:v1",
            f"docker://{registry_host}/{target}:copied",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    source_digest = ecr.describe_images(repositoryName=source)["imageDetails"][0]["imageDigest"]
    target_images = ecr.describe_images(repositoryName=target)["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in target_images] == [(source_digest, ["copied"])]
    inspected = subprocess.run(
        [
            *skopeo,
            "inspect",
            "--tls-verify=false",
            "--creds",
            creds,
            f"docker://{registry_host}/{target}:copied",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(inspected.stdout)["Digest"] == source_digest


def test_oras_artifact_with_subject_is_listed_by_referrers(
    server: ServerProcess, account_keys: Keys, registry_host: str, tmp_path: Path
) -> None:
    ecr = make_client(server, "ecr", account_keys)
    name = unique_name("art")
    ecr.create_repository(repositoryName=name)
    client = oras.client.OrasClient(hostname=registry_host, insecure=True, auth_backend="basic")
    client.login(username="AWS", password=password_of(ecr), hostname=registry_host, tls_verify=False)
    base_file = tmp_path / "base.txt"
    base_file.write_text("the subject")
    client.push(target=f"{registry_host}/{name}:base", files=[str(base_file)], disable_path_validation=True)
    base = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "base"}])["images"][0]
    subject_digest = base["imageId"]["imageDigest"]
    subject = oras.oci.Subject(
        base["imageManifestMediaType"], subject_digest, len(base["imageManifest"].encode())
    )
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"sbom": true}')
    client.push(
        target=f"{registry_host}/{name}:sbom",
        files=[str(sbom)],
        subject=subject,
        disable_path_validation=True,
    )
    auth = httpx.BasicAuth("AWS", password_of(ecr))
    index = httpx.get(f"http://{registry_host}/v2/{name}/referrers/{subject_digest}", auth=auth).json()
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert len(index["manifests"]) == 1


def test_anonymous_and_cross_account_access_are_refused(
    server: ServerProcess, account_keys: Keys, registry_host: str
) -> None:
    alice = make_client(server, "ecr", account_keys)
    name = unique_name("mine")
    alice.create_repository(repositoryName=name)
    anonymous = httpx.get(f"http://{registry_host}/v2/{name}/tags/list")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic realm=")
    assert 'service="ecr.amazonaws.com"' in anonymous.headers["www-authenticate"]
    bob = make_client(server, "ecr", server.create_key("bob-registry"))
    response = httpx.get(
        f"http://{registry_host}/v2/{name}/tags/list", auth=httpx.BasicAuth("AWS", password_of(bob))
    )
    assert response.status_code in {403, 404}
    assert response.json()["errors"][0]["code"] in {"NAME_UNKNOWN", "DENIED"}
    own = httpx.get(
        f"http://{registry_host}/v2/{name}/tags/list", auth=httpx.BasicAuth("AWS", password_of(alice))
    )
    assert own.status_code == 200 and own.json()["name"] == name

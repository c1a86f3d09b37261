"""Upload sessions over HTTP: the per-repository cap, and pushes racing DeleteRepository --force."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from dockyard.services.ecr.blobs import MAX_UPLOADS_PER_REPOSITORY
from tests.registry_http.conftest import Account, Registry, errors_of, sha256


def test_a_repository_holds_a_bounded_number_of_upload_sessions(alice: Account, registry: Registry) -> None:
    repo = alice.new_repository("cap")
    for _ in range(MAX_UPLOADS_PER_REPOSITORY):
        registry.start_upload(repo)
    refused = registry.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert refused.status_code == 429, refused.text
    assert errors_of(refused) == ["TOOMANYREQUESTS"]
    with pytest.raises(ClientError) as raised:
        alice.ecr.initiate_layer_upload(repositoryName=repo)
    assert raised.value.response["Error"]["Code"] == "LimitExceededException"
    # Another repository of the same account is unaffected.
    assert registry.push_blob(alice.new_repository("cap-other"), b"fine")


def test_monolithic_pushes_racing_a_forced_delete_never_fail_on_the_server(
    alice: Account, registry: Registry
) -> None:
    for round_number in range(5):
        repo = alice.new_repository("race")
        statuses: list[tuple[int, list[str]]] = []

        def push(
            i: int,
            repo: str = repo,
            round_number: int = round_number,
            statuses: list[tuple[int, list[str]]] = statuses,
        ) -> None:
            data = f"blob {round_number} {i}".encode()
            response = registry.request(
                "POST",
                f"/v2/{repo}/blobs/uploads/",
                params={"digest": sha256(data)},
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            codes = errors_of(response) if response.status_code >= 400 else []
            statuses.append((response.status_code, codes))

        threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        alice.ecr.delete_repository(repositoryName=repo, force=True)
        for thread in threads:
            thread.join()
        for status, codes in statuses:
            assert status == 201 or (status == 404 and codes == ["NAME_UNKNOWN"]), (status, codes)

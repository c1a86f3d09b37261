"""Where logs and exec go (api/kube/pod_locations), pure: kube-apiserver's container choice, its error
texts and the kubelet request."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.api.kube import pod_locations as pl
from dockyard.control.kube.errors import BadRequestError, KubeError


def pod(*containers: str, init: tuple[str, ...] = (), node: str = "n1") -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "team a"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": c} for c in containers],
            "initContainers": [{"name": c} for c in init],
        },
    }


NODE = {
    "status": {
        "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}},
    }
}


def test_container_choice_and_messages() -> None:
    assert pl.log_container(pod("app"), "") == "app"
    assert pl.exec_container(pod("app", init=("setup",)), "setup") == "setup"
    with pytest.raises(
        BadRequestError,
        match=r"^a container name must be specified for pod web, choose one of: "
        r"\[setup a b\]$",
    ):
        pl.log_container(pod("a", "b", init=("setup",)), "")
    with pytest.raises(BadRequestError) as several:
        pl.exec_container(pod("a", "b", init=("setup",)), "")
    assert several.value.message == (
        "a container name must be specified for pod web, choose one of: [a b]"
        " or one of the init containers: [setup]"
    )
    with pytest.raises(BadRequestError, match=r"^container nope is not valid for pod web$"):
        pl.log_container(pod("a"), "nope")


def test_kubelet_address_prefers_the_internal_ip_and_the_advertised_port() -> None:
    assert pl.kubelet_endpoint(NODE) == ("10.0.0.5", 10251)
    assert pl.kubelet_endpoint({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}}) == (
        "n1",
        10250,
    )
    with pytest.raises(KubeError) as none:
        pl.kubelet_endpoint({"status": {}})
    assert (
        none.value.code == 500 and none.value.message == "no preferred addresses found; known addresses: []"
    )


def test_kubelet_requests() -> None:
    logs = pl.log_location(
        pod("app"), NODE, "app", {"follow": ["true"], "tailLines": ["5"], "previous": ["false"]}
    )
    assert logs.url() == "https://10.0.0.5:10251/containerLogs/team%20a/web/app?follow=true&tailLines=5"
    request = pl.exec_request({"command": ["sh", "-c", "echo hi"], "stdin": ["true"], "stdout": ["true"]})
    location = pl.exec_location(pod("app"), NODE, "app", request)
    assert location.url("wss") == (
        "wss://10.0.0.5:10251/exec/team%20a/web/app?command=sh&command=-c&command=echo+hi&input=1&output=1"
    )
    with pytest.raises(BadRequestError, match="at least 1 of stdin, stdout, stderr"):
        pl.exec_request({"command": ["true"]})
    with pytest.raises(BadRequestError, match="at least one command"):
        pl.exec_request({"stdout": ["true"]})

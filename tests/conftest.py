"""Suite-wide rules: which tests need the Docker Engine, so that pytest-xdist runs them one at a time.

``scripts/test`` runs the tests marked ``docker`` by themselves, one at a time, after the others (which it
spreads over pytest-xdist workers); under ``--dist loadgroup`` the same tests also form one xdist group,
so a single parallel run keeps them on one worker. Tests that use the Docker Engine
(agents, Fargate pool hosts, ``dockyard up``, docker/iptables/network namespaces) share state no test
owns — the engine's containers and networks, the 172.31/16 subnets two servers' pool hosts would both
create, iptables — so they all go to one xdist group, ``docker``, which one worker runs in collection
order. Without xdist (``-p no:xdist``, ``-n 0``, or
plain ``pytest``) the marker changes nothing.

A test is Docker-bound when any of these holds (checked here, not marked test by test):

- its module uses the Docker helpers: anything from ``tests.integration.agents`` (agent processes, images
  pushed with docker), ``tests.integration.images`` (``docker import``) or
  ``dockyard.agent.docker_runtime`` (the real engine);
- it needs the ``docker_image`` fixture (tests/agent: the busybox image imported into the engine);
- it is the ``docker`` case of the runtime harness (tests/agent/conftest.py's ``harness[docker]``).
"""

from __future__ import annotations

import pytest

DOCKER_GROUP = "docker"
DOCKER_HELPER_MODULES = frozenset(
    {"tests.integration.agents", "tests.integration.images", "dockyard.agent.docker_runtime"}
)
DOCKER_FIXTURES = frozenset({"docker_image"})


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers it too; this keeps --strict-markers happy under -p no:xdist.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one pytest-xdist worker")
    config.addinivalue_line("markers", "docker: drives the Docker Engine (scripts/test runs these alone)")


def _module_uses_docker_helpers(module: object) -> bool:
    return any(getattr(value, "__module__", None) in DOCKER_HELPER_MODULES for value in vars(module).values())


def uses_docker(item: pytest.Item) -> bool:
    """Whether ``item`` drives the Docker Engine (the rule in this module's docstring)."""
    if DOCKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("harness") == "docker":
        return True
    module = getattr(item, "module", None)
    return module is not None and _module_uses_docker_helpers(module)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if uses_docker(item):
            item.add_marker(pytest.mark.docker)
            item.add_marker(pytest.mark.xdist_group(DOCKER_GROUP))

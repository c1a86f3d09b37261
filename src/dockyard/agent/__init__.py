"""The container-runtime layer of the future ``dockyard agent``: the per-host program that runs ECS tasks.

Flow::

    agent logic (later: reconcile tasks → actions)
        │ ContainerRuntime protocol (runtime.py): pull, create, start, stop, remove, inspect, list, wait_exit
        ├── DockerRuntime (docker_runtime.py): the Docker Engine HTTP API v1.41 over its unix socket
        │       docker_api.py: pure translation ContainerSpec → create body, inspect JSON → ContainerState
        └── FakeRuntime (fake_runtime.py): in memory, deterministic, for the agent's unit tests

One conformance suite (``tests/agent/test_runtime_conformance.py``) runs against both implementations.
This package imports only ``dockyard.core`` (and the standard library / httpx).
"""

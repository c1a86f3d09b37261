"""networkBindings as ECS reports them: IPv4 only in bridge mode, the port mappings in host mode."""

from __future__ import annotations

from dockyard.agent.runtime import NetworkBinding
from dockyard.agent.task_logic import bindings_json, host_mode_bindings


def test_bridge_bindings_leave_out_docker_s_ipv6_duplicates() -> None:
    published = [
        NetworkBinding(8080, "tcp", "0.0.0.0", 32768),
        NetworkBinding(8080, "tcp", "::", 32768),
        NetworkBinding(53, "udp", "127.0.0.1", 5353),
    ]
    assert bindings_json(published) == [
        {"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": 32768, "protocol": "tcp"},
        {"bindIP": "127.0.0.1", "containerPort": 53, "hostPort": 5353, "protocol": "udp"},
    ]


def test_host_mode_bindings_are_the_port_mappings() -> None:
    definition = {
        "portMappings": [
            {"containerPort": 8080},
            {"containerPort": 53, "hostPort": 53, "protocol": "udp"},
            {"hostPort": 9},  # no container port: not a binding
        ]
    }
    assert host_mode_bindings(definition) == [
        {"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": 8080, "protocol": "tcp"},
        {"bindIP": "0.0.0.0", "containerPort": 53, "hostPort": 53, "protocol": "udp"},
    ]
    assert host_mode_bindings({}) == []

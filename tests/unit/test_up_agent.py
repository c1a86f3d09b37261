"""Pure parts of the local agent ``dockyard up`` runs: its endpoint, command, environment and banner lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.banner import AgentStatus, agent_lines
from dockyard.cli.local_agent import LocalAgent, agent_endpoint, docker_reachable, docker_socket


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:4566"),
        ("0.0.0.0", "http://127.0.0.1:4566"),
        ("::", "http://[::1]:4566"),
        ("fd00::5", "http://[fd00::5]:4566"),
        ("10.1.2.3", "http://10.1.2.3:4566"),
    ],
)
def test_agent_endpoint(host: str, url: str) -> None:
    assert agent_endpoint(host, 4566) == url


def test_command_and_environment(tmp_path: Path) -> None:
    agent = LocalAgent(
        endpoint="http://127.0.0.1:4566",
        data_dir=tmp_path / "agent",
        access_key_id="AKIAROOT",
        secret_access_key="secret",
        region="eu-west-1",
        environ={
            "AWS_PROFILE": "work",
            "AWS_SESSION_TOKEN": "t",
            "PATH": "/bin",
            "AWS_ACCESS_KEY_ID": "other",
        },
    )
    command = agent.command()
    assert command[1:4] == ["-m", "dockyard.cli.main", "agent"]
    assert command[4:] == [
        *("--endpoint", "http://127.0.0.1:4566", "--cluster", "default"),
        *("--data-dir", str(tmp_path / "agent"), "--log-level", "info"),
    ]
    env = agent.child_env()
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAROOT" and env["AWS_SECRET_ACCESS_KEY"] == "secret"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["PATH"] == "/bin"


def test_stop_before_start_is_harmless(tmp_path: Path) -> None:
    agent = LocalAgent("http://127.0.0.1:1", tmp_path, "a", "b", "us-east-1")
    assert agent.stop() is None


def test_docker_socket_and_reachability(tmp_path: Path) -> None:
    assert docker_socket({}) == "/var/run/docker.sock"
    assert docker_socket({"DOCKYARD_AGENT_DOCKER_SOCKET": "/x.sock"}) == "/x.sock"
    assert docker_reachable(str(tmp_path / "none.sock")) is False


def test_banner_lines() -> None:
    running = "\n".join(agent_lines(AgentStatus.RUNNING, "/d", "/var/run/docker.sock"))
    assert "cluster    default" in running and 'prefixed "agent | "' in running and "/d/agent" in running
    waiting = "\n".join(agent_lines(AgentStatus.WAITING_FOR_DOCKER, "/d", "/s.sock"))
    assert "waiting for Docker at /s.sock" in waiting
    assert "--no-agent" in "\n".join(agent_lines(AgentStatus.DISABLED, "/d", "/s.sock"))

"""What ``dockyard up`` prints: where it is, who you are, and the lines to paste into a shell."""

from __future__ import annotations

import enum

from dockyard import __version__
from dockyard.core.settings import ServerSettings
from dockyard.store.credentials import AccessKey


def endpoint_url(settings: ServerSettings) -> str:
    host = "localhost" if settings.host in {"127.0.0.1", "0.0.0.0", "::", "::1"} else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


class AgentStatus(enum.Enum):
    """What became of the local agent ``up`` runs."""

    RUNNING = "running"
    WAITING_FOR_DOCKER = "waiting for Docker"
    DISABLED = "disabled"


AGENT_LOG_NOTE = 'its log lines go to stderr, prefixed "agent | "'


def agent_lines(status: AgentStatus, data_dir: object, socket_path: str) -> list[str]:
    if status is AgentStatus.DISABLED:
        return ["  agent      none (--no-agent): tasks stay PENDING until a `dockyard agent` joins a cluster"]
    first = (
        "  cluster    default: a local agent joins it with this host's Docker"
        if status is AgentStatus.RUNNING
        else f"  cluster    default: the local agent is waiting for Docker at {socket_path}"
    )
    return [first, f"             ({AGENT_LOG_NOTE}; its state is in {data_dir}/agent)"]


def up_banner(
    settings: ServerSettings,
    key: AccessKey,
    agent: AgentStatus = AgentStatus.DISABLED,
    docker_socket: str = "/var/run/docker.sock",
) -> str:
    endpoint = endpoint_url(settings)
    registry = settings.resolved_registry_host
    return "\n".join(
        [
            f"dockyard {__version__} is up at {endpoint}",
            f"  data dir   {settings.data_dir}",
            f"  account    {key.principal.account_id} ({key.principal.arn})",
            *agent_lines(agent, settings.data_dir, docker_socket),
            "",
            "Paste these lines into your shell to use the aws CLI and boto3:",
            "",
            "unset AWS_PROFILE AWS_SESSION_TOKEN",
            f"export AWS_ENDPOINT_URL={endpoint}",
            f"export AWS_ACCESS_KEY_ID={key.access_key_id}",
            f"export AWS_SECRET_ACCESS_KEY={key.secret_access_key}",
            f"export AWS_DEFAULT_REGION={settings.default_region}",
            "",
            "Then try:",
            "  aws sts get-caller-identity",
            *(
                ["  aws ecs list-container-instances --cluster default"]
                if agent is not AgentStatus.DISABLED
                else []
            ),
            "  aws ecs create-cluster --cluster-name demo",
            "  aws ecr create-repository --repository-name demo",
            f"  aws ecr get-login-password | docker login --username AWS --password-stdin {registry}",
            f"  docker push {registry}/demo:latest",
            "",
        ]
    )

"""The ``dockyard`` command: ``server``, ``up``, ``agent``, ``keys`` and ``version``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dockyard import __version__
from dockyard.agent import config as agent_config
from dockyard.agent.main import run_from_args as run_agent


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        result: int = args.run(args)
    except (ValueError, OSError) as exc:
        print(f"dockyard: {exc}", file=sys.stderr)
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dockyard", description="AWS container services, self-hosted.")
    commands = parser.add_subparsers(title="commands")

    server = commands.add_parser("server", help="run the control plane and registry on one port")
    _add_server_flags(server)
    server.set_defaults(run=_server_command("run_server"))

    up = commands.add_parser("up", help="run everything locally and print how to use it")
    _add_server_flags(up)
    up.add_argument(
        "--no-agent",
        action="store_true",
        help="do not run a local agent (by default one joins this host to the cluster 'default')",
    )
    up.set_defaults(run=_server_command("run_up"))

    agent = commands.add_parser("agent", help="join this host to a cluster and run its tasks")
    agent_config.add_arguments(agent)
    agent.set_defaults(run=run_agent)

    keys = commands.add_parser("keys", help="manage access keys and accounts")
    _add_store_flags(keys)
    key_commands = keys.add_subparsers(title="keys commands")
    create = key_commands.add_parser("create", help="create an access key (in a new account by default)")
    create.add_argument("--user", required=True, help="IAM-style user name the key belongs to")
    create.add_argument("--account", help="12-digit account id (default: a new account)")
    create.add_argument(
        "--fargate-pool",
        action="store_true",
        help="a key of the Fargate pool's account, for 'dockyard agent --fargate' on another host",
    )
    create.set_defaults(run=_server_command("run_keys_create"))
    listing = key_commands.add_parser("list", help="list access keys")
    listing.set_defaults(run=_server_command("run_keys_list"))

    fargate = commands.add_parser("fargate", help="operate the Fargate pool")
    _add_store_flags(fargate)
    fargate_commands = fargate.add_subparsers(title="fargate commands")
    interrupt = fargate_commands.add_parser(
        "interrupt", help="interrupt a FARGATE_SPOT task as a Spot reclaim would (SIGTERM, 2 minutes)"
    )
    interrupt.add_argument("--task", required=True, metavar="ARN", help="the task's ARN")
    interrupt.set_defaults(run=_server_command("run_fargate_interrupt"))

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(run=lambda _args: print(f"dockyard {__version__}") or 0)
    return parser


def _server_command(name: str) -> Callable[[argparse.Namespace], int]:
    """``dockyard.cli.server_commands.<name>``, imported only when that command runs (see its docstring)."""

    def run(args: argparse.Namespace) -> int:
        command: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module("dockyard.cli.server_commands"), name
        )
        return command(args)

    return run


def _add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="state directory (default ~/.local/share/dockyard)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    _add_store_flags(parser)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 4566)")
    parser.add_argument("--registry-host", help="host[:port] in repository URIs (default localhost:<port>)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


if __name__ == "__main__":
    sys.exit(main())

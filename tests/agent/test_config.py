"""The agent's settings for the metadata endpoint, task cleanup and container stop timeouts."""

from __future__ import annotations

import argparse

import pytest

from dockyard.agent.config import (
    DEFAULT_CONTAINER_STOP_TIMEOUT_S,
    DEFAULT_METADATA_PORT,
    DEFAULT_TASK_CLEANUP_WAIT_S,
    AgentSettings,
    add_arguments,
    load_agent_settings,
    parse_duration,
)

REQUIRED = ["--endpoint", "http://127.0.0.1:4566", "--cluster", "default"]


def parse(argv: list[str], environ: dict[str, str] | None = None) -> AgentSettings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return load_agent_settings(parser.parse_args(REQUIRED + argv), environ or {})


def test_defaults() -> None:
    settings = parse([])
    assert settings.metadata_enabled is True
    assert settings.metadata_address is None  # the Docker bridge gateway, resolved at start
    assert settings.metadata_port == DEFAULT_METADATA_PORT == 51679
    assert settings.task_cleanup_wait_s == DEFAULT_TASK_CLEANUP_WAIT_S == 3600
    assert settings.container_stop_timeout_s == DEFAULT_CONTAINER_STOP_TIMEOUT_S == 30


def test_flags() -> None:
    settings = parse(
        [
            *("--metadata-address", "127.0.0.1", "--metadata-port", "0"),
            *("--task-cleanup-wait", "90", "--container-stop-timeout", "2.5"),
        ]
    )
    assert (settings.metadata_address, settings.metadata_port) == ("127.0.0.1", 0)
    assert (settings.task_cleanup_wait_s, settings.container_stop_timeout_s) == (90, 2.5)


def test_env_and_flags_over_env() -> None:
    environ = {
        "DOCKYARD_AGENT_METADATA_ADDRESS": "10.0.0.5",
        "DOCKYARD_AGENT_METADATA_PORT": "8080",
        "DOCKYARD_AGENT_TASK_CLEANUP_WAIT": "1h",
        "DOCKYARD_AGENT_CONTAINER_STOP_TIMEOUT": "1m30s",
    }
    from_env = parse([], environ)
    assert (from_env.metadata_address, from_env.metadata_port) == ("10.0.0.5", 8080)
    assert (from_env.task_cleanup_wait_s, from_env.container_stop_timeout_s) == (3600, 90)
    flags = parse(["--metadata-port", "9000", "--container-stop-timeout", "5s"], environ)
    assert (flags.metadata_address, flags.metadata_port, flags.container_stop_timeout_s) == (
        "10.0.0.5",
        9000,
        5,
    )


@pytest.mark.parametrize("value", ["none", "None", "NONE"])
def test_none_disables_the_metadata_endpoint(value: str) -> None:
    assert parse(["--metadata-address", value]).metadata_enabled is False
    assert parse([], {"DOCKYARD_AGENT_METADATA_ADDRESS": value}).metadata_enabled is False


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("172.17.0.1", "172.17.0.1"),
        ("[fd00::1]", "fd00::1"),
        ("::1", "::1"),
        ("docker-host.lan", "docker-host.lan"),
    ],
)
def test_metadata_addresses(given: str, stored: str) -> None:
    assert parse(["--metadata-address", given]).metadata_address == stored


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30),
        ("0", 0),
        ("2.5", 2.5),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1m30s", 90),
        ("500ms", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metadata-address", "not an address"], "metadata address"),
        (["--metadata-port", "65536"], "metadata port"),
        (["--metadata-port", "-1"], "metadata port"),
        (["--task-cleanup-wait", "-5"], "task cleanup wait"),
        (["--task-cleanup-wait", "soon"], "task cleanup wait"),
        (["--container-stop-timeout", "30x"], "container stop timeout"),
        (["--container-stop-timeout", "nan"], "container stop timeout"),
        (["--container-stop-timeout", "inf"], "container stop timeout"),
        (["--cpu-units", "0"], "CPU units must be positive"),
        (["--memory", "-1"], "memory must not be negative"),
    ],
)
def test_invalid_values(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(argv)


def test_registered_resources_and_runtimes() -> None:
    settings = parse(["--cpu-units", "8192", "--memory", "65536", "--oci-runtime", "runc"])
    assert (settings.cpu_units, settings.memory_mib, settings.oci_runtimes) == (8192, 65536, ("runc",))
    from_env = parse([], {"DOCKYARD_AGENT_CPU_UNITS": "4096", "DOCKYARD_AGENT_OCI_RUNTIMES": "runc, runsc"})
    assert (from_env.cpu_units, from_env.memory_mib, from_env.oci_runtimes) == (4096, None, ("runc", "runsc"))
    assert parse([]).oci_runtimes is None


def test_invalid_env_values() -> None:
    with pytest.raises(ValueError, match="metadata port"):
        parse([], {"DOCKYARD_AGENT_METADATA_PORT": "http"})

"""The agent's firewall: the ruleset it generates (pure), how it drives iptables (a recording runner), the
push channel handing it FirewallMessages, and — with the real iptables and Docker Engine — a port the
security groups do not open is unreachable from another container, until a rule opens it; the host always
reaches it."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.channel import PushChannel
from dockyard.agent.config import add_arguments, load_agent_settings
from dockyard.agent.firewall import PARENT_CHAIN, CommandResult, Firewall, chain_name, ruleset
from dockyard.core import agent_protocol as protocol
from tests.polling import wait_until

INSTANCE = "arn:aws:ecs:us-east-1:123456789012:container-instance/default/0f3a9c21d4e54b7a8c9d0e1f2a3b4c5d"


# --- the ruleset --------------------------------------------------------------------------------------------


def test_the_chain_is_named_after_the_instance_id() -> None:
    assert chain_name(INSTANCE) == "DYFW-0f3a9c21"
    other = chain_name("arn:aws:ecs:us-east-1:1:container-instance/default/test-xyz")
    assert other.startswith("DYFW-") and len(other) == 13 and other != chain_name(INSTANCE)


def test_ruleset_admits_each_rule_and_source_then_drops_the_rest() -> None:
    interfaces: list[dict[str, Any]] = [
        {
            "networkInterfaceId": "eni-1",
            "privateIPv4Address": "172.31.0.4",
            "ingress": [
                {
                    "protocol": "tcp",
                    "fromPort": 8080,
                    "toPort": 8080,
                    "cidrs": ["172.31.0.5/32", "10.0.0.0/8"],
                },
                {"protocol": "udp", "fromPort": 5000, "toPort": 5010, "cidrs": ["0.0.0.0/0"]},
                {"protocol": "icmp", "fromPort": 8, "toPort": -1, "cidrs": ["192.0.2.0/24"]},
                {"protocol": "icmp", "fromPort": -1, "toPort": -1, "cidrs": ["192.0.2.1/32"]},
                {"protocol": "-1", "cidrs": ["172.31.0.6/32"]},
                {"protocol": "47", "cidrs": ["198.51.100.0/24"]},
            ],
        },
        {"networkInterfaceId": "eni-2", "privateIPv4Address": "172.31.0.7", "ingress": []},
    ]
    assert ruleset("DYFW-0f3a9c21", interfaces) == (
        "*filter\n"
        ":DYFW-0f3a9c21 - [0:0]\n"
        "-A DYFW-0f3a9c21 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -p tcp -m tcp --dport 8080 -s 172.31.0.5/32 -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -p tcp -m tcp --dport 8080 -s 10.0.0.0/8 -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -p udp -m udp --dport 5000:5010 -s 0.0.0.0/0 -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -p icmp -m icmp --icmp-type 8 -s 192.0.2.0/24 -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -p icmp -s 192.0.2.1/32 -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -s 172.31.0.6/32 -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -p 47 -s 198.51.100.0/24 -j RETURN\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.4/32 -j DROP\n"
        "-A DYFW-0f3a9c21 -d 172.31.0.7/32 -j DROP\n"
        "COMMIT\n"
    )


def test_an_empty_state_leaves_only_the_conntrack_rule() -> None:
    assert ruleset("DYFW-1", []).splitlines() == [
        "*filter",
        ":DYFW-1 - [0:0]",
        "-A DYFW-1 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "COMMIT",
    ]


def test_malformed_entries_never_reach_iptables(caplog: pytest.LogCaptureFixture) -> None:
    interfaces: list[dict[str, Any]] = [
        {"networkInterfaceId": "eni-bad", "privateIPv4Address": "172.31.0.4 -j ACCEPT", "ingress": []},
        {
            "networkInterfaceId": "eni-1",
            "privateIPv4Address": "172.31.0.8",
            "ingress": [
                {"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrs": ["10.0.0.0/8\n-A INPUT -j DROP"]},
                {"protocol": "tcp", "fromPort": 90, "toPort": 80, "cidrs": ["0.0.0.0/0"]},
                {"protocol": "tcp", "fromPort": "80", "toPort": 80, "cidrs": ["0.0.0.0/0"]},
                {"protocol": "gre -j ACCEPT", "cidrs": ["0.0.0.0/0"]},
                {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrs": ["::/0", "10.9.0.1/16"]},
                "not a rule",
            ],
        },
    ]
    with caplog.at_level(logging.WARNING, logger="dockyard.agent.firewall"):
        text = ruleset("DYFW-1", interfaces)
    assert text.splitlines()[3:] == [
        "-A DYFW-1 -d 172.31.0.8/32 -p tcp -m tcp --dport 443 -s 10.9.0.0/16 -j RETURN",
        "-A DYFW-1 -d 172.31.0.8/32 -j DROP",
        "COMMIT",
    ]
    assert len(caplog.records) == 7


# --- driving iptables -----------------------------------------------------------------------------------


@dataclass
class RecordingRunner:
    """iptables as a set of answers: a command whose argv (after ``--wait -t filter``) starts with one of
    ``failing`` fails; ``existing`` chains answer ``-S``, ``present`` jumps answer ``-C``."""

    existing: set[str]
    present: set[tuple[str, str]]
    failing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        args = list(argv)
        self.calls.append((args, stdin))
        if any(args[0] == name for name in self.failing):
            return CommandResult(1, f"{args[0]}: failed")
        if args[0] == "iptables":
            action, chain = args[4], args[5]
            if action == "-S":
                return CommandResult(0 if chain in self.existing else 1, "")
            if action == "-C":
                return CommandResult(0 if (chain, args[7]) in self.present else 1, "")
            if action in {"-I", "-A"}:
                self.present.add((chain, args[-1]))
            if action == "-N":
                self.existing.add(chain)
        return CommandResult(0, "")

    def commands(self) -> list[list[str]]:
        return [args for args, _ in self.calls]


def firewall_with(runner: RecordingRunner, tmp_path: Path) -> Firewall:
    sysctl = tmp_path / "bridge-nf-call-iptables"
    sysctl.write_text("0\n")
    return Firewall(INSTANCE, run=runner, bridge_sysctl=sysctl)


STATE = [{"networkInterfaceId": "eni-1", "privateIPv4Address": "172.31.0.4", "ingress": []}]


def test_apply_restores_the_chain_and_jumps_to_it_once(tmp_path: Path) -> None:
    runner = RecordingRunner(existing={PARENT_CHAIN}, present=set())
    firewall = firewall_with(runner, tmp_path)
    assert firewall.apply(STATE)
    assert firewall.apply(STATE)
    restores = [(args, stdin) for args, stdin in runner.calls if args[0] == "iptables-restore"]
    assert [args for args, _ in restores] == [["iptables-restore", "--wait", "--noflush"]] * 2
    assert restores[0][1] == ruleset("DYFW-0f3a9c21", STATE)
    inserts = [args for args in runner.commands() if "-I" in args]
    assert inserts == [["iptables", "--wait", "-t", "filter", "-I", PARENT_CHAIN, "1", "-j", "DYFW-0f3a9c21"]]
    assert ["modprobe", "br_netfilter"] in runner.commands()
    assert (tmp_path / "bridge-nf-call-iptables").read_text() == "1\n"


def test_docker_user_is_made_and_called_from_forward_when_missing(tmp_path: Path) -> None:
    runner = RecordingRunner(existing=set(), present=set())
    assert firewall_with(runner, tmp_path).apply(STATE)
    assert ["iptables", "--wait", "-t", "filter", "-N", PARENT_CHAIN] in runner.commands()
    assert ("FORWARD", PARENT_CHAIN) in runner.present and (PARENT_CHAIN, "DYFW-0f3a9c21") in runner.present


def test_nothing_is_installed_for_an_empty_state_until_there_is_something(tmp_path: Path) -> None:
    runner = RecordingRunner(existing={PARENT_CHAIN}, present=set())
    firewall = firewall_with(runner, tmp_path)
    assert firewall.apply([])
    assert [args[0] for args in runner.commands()] == ["iptables"]  # only: does the chain exist?
    assert firewall.apply(STATE) and firewall.apply([])
    last_restore = [stdin for args, stdin in runner.calls if args[0] == "iptables-restore"][-1]
    assert last_restore == ruleset("DYFW-0f3a9c21", [])  # emptied, not left enforcing the old state


def test_an_iptables_failure_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runner = RecordingRunner(existing={PARENT_CHAIN}, present=set(), failing=("iptables-restore",))
    with caplog.at_level(logging.ERROR, logger="dockyard.agent.firewall"):
        assert not firewall_with(runner, tmp_path).apply(STATE)
    assert "iptables-restore failed" in caplog.text
    assert not any("-I" in args for args in runner.commands())


def test_the_worker_applies_the_latest_state_without_blocking_the_caller(tmp_path: Path) -> None:
    release = threading.Event()
    applied: list[str] = []

    def slow_runner(argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        if argv[0] == "iptables-restore":
            release.wait(10)
            applied.append(stdin or "")
        return CommandResult(0, "")

    sysctl = tmp_path / "sysctl"
    sysctl.write_text("1\n")
    firewall = Firewall(INSTANCE, run=slow_runner, bridge_sysctl=sysctl)
    firewall.start()
    try:
        states = [
            [{"networkInterfaceId": "eni-1", "privateIPv4Address": f"172.31.0.{n}", "ingress": []}]
            for n in (4, 5, 6)
        ]
        for state in states:
            firewall.submit(state)  # returns at once although iptables-restore is stuck
        release.set()
        wait_until(
            lambda: bool(applied) and "172.31.0.6/32" in applied[-1], deadline_s=10, what="the latest state"
        )
        assert len(applied) <= 2  # the first (maybe) and the latest: the middle one was replaced
    finally:
        release.set()
        firewall.close()


def test_the_worker_applies_a_failed_state_again_until_iptables_takes_it(tmp_path: Path) -> None:
    """The server sends a state only when it changes: one iptables failure must not leave it unapplied."""
    restores: list[str] = []

    def flaky_runner(argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        if argv[0] == "iptables-restore":
            restores.append(stdin or "")
            if len(restores) <= 2:
                return CommandResult(4, "iptables-restore: Resource temporarily unavailable")
        return CommandResult(0, "")

    sysctl = tmp_path / "sysctl"
    sysctl.write_text("1\n")
    firewall = Firewall(INSTANCE, run=flaky_runner, bridge_sysctl=sysctl)
    firewall.start()
    try:
        firewall.submit(STATE)
        wait_until(lambda: len(restores) >= 3, deadline_s=10, what="the state applied on the third try")
        assert restores == [ruleset("DYFW-0f3a9c21", STATE)] * 3
        assert not firewall._pending  # applied: nothing left to retry
    finally:
        firewall.close()
    assert len(restores) == 3


def test_the_push_channel_hands_firewall_messages_over() -> None:
    received: list[list[dict[str, Any]]] = []

    class Handler:
        def apply(self, tasks: Any) -> None: ...
        def active_task_arns(self) -> set[str]:
            return set()

        def stop_tasks(self, task_arns: Any, reason: str) -> None: ...

    channel = PushChannel(
        endpoint_url="http://127.0.0.1:1",
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/default",
        container_instance_arn=INSTANCE,
        credentials=None,
        region="us-east-1",
        handler=Handler(),
        stop=threading.Event(),
        on_firewall=received.append,
    )
    _type, message = protocol.decode(
        protocol.encode(protocol.FIREWALL, {"messageId": "m1", "interfaces": STATE}), protocol.SERVER_MESSAGES
    )
    channel._dispatch(protocol.FIREWALL, message)
    channel._dispatch(protocol.FIREWALL, {"messageId": "m2"})  # no interfaces: ignored, not "allow all"
    channel._dispatch(protocol.FIREWALL, {"messageId": "m3", "interfaces": []})
    assert received == [STATE, []]


@pytest.mark.parametrize(
    ("argv", "environ", "enabled"),
    [
        ([], {}, True),
        (["--no-firewall"], {}, False),
        ([], {"DOCKYARD_AGENT_FIREWALL": "0"}, False),
        ([], {"DOCKYARD_AGENT_FIREWALL": "true"}, True),
        (["--no-firewall"], {"DOCKYARD_AGENT_FIREWALL": "1"}, False),
    ],
)
def test_the_firewall_is_on_unless_disabled(argv: list[str], environ: dict[str, str], enabled: bool) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--endpoint", "http://127.0.0.1:4566", "--cluster", "default", *argv])
    assert load_agent_settings(args, environ).firewall_enabled is enabled
    with pytest.raises(ValueError, match="firewall"):
        load_agent_settings(
            parser.parse_args(["--endpoint", "http://x", "--cluster", "c"]),
            {"DOCKYARD_AGENT_FIREWALL": "maybe"},
        )


# --- the real thing -------------------------------------------------------------------------------------

PORT = 8080


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=120)


def _subnets_in_use() -> list[ipaddress.IPv4Network]:
    ids = docker("network", "ls", "-q").stdout.split()
    inspected = json.loads(docker("network", "inspect", *ids).stdout) if ids else []
    used = [
        ipaddress.ip_network(config["Subnet"])
        for network in inspected
        for config in (network.get("IPAM") or {}).get("Config") or []
        if config.get("Subnet")
    ]
    return [n for n in used if isinstance(n, ipaddress.IPv4Network)]


@dataclass
class Bridge:
    name: str
    subnet: ipaddress.IPv4Network

    def address(self, host: int) -> str:
        return str(self.subnet.network_address + host)


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    """A Docker bridge network of its own: a free /24 of 172.31.192.0/18 (above the default subnets)."""
    if shutil.which("iptables") is None or shutil.which("iptables-restore") is None:
        pytest.fail("iptables is not installed: scripts/setup installs it")
    name = f"dockyard-fwtest-{uuid.uuid4().hex[:10]}"
    for candidate in ipaddress.IPv4Network("172.31.192.0/18").subnets(new_prefix=24):
        if any(candidate.overlaps(used) for used in _subnets_in_use()):
            continue
        created = docker(
            "network", "create", "--driver", "bridge", "--subnet", str(candidate),
            "--gateway", str(candidate.network_address + 1), name, check=False,
        )  # fmt: skip
        if created.returncode == 0:
            break
        if "overlap" not in created.stderr:
            pytest.fail(f"docker network create: {created.stderr}")
    else:
        pytest.fail("no free /24 in 172.31.192.0/18 for the test network")
    try:
        yield Bridge(name, candidate)
    finally:
        docker("network", "rm", name, check=False)


def fetch_from(container: str, address: str) -> bool:
    """Whether ``container`` gets busybox httpd's page from ``address``:8080 (nc, 2 s connect timeout)."""
    script = f'echo -e "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 {address} {PORT}'
    done = docker("exec", container, "sh", "-c", script, check=False)
    return "hello from dockyard" in done.stdout


def fetch_from_host(address: str) -> bool:
    try:
        with socket.create_connection((address, PORT), timeout=2) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):  # HTTP/1.0: the server closes after the reply
                reply += chunk
            return b"hello from dockyard" in reply
    except OSError:
        return False


def jumps_to(chain: str) -> int:
    listed = subprocess.run(
        ["iptables", "-t", "filter", "-S", PARENT_CHAIN], capture_output=True, text=True, check=False
    )
    return listed.stdout.splitlines().count(f"-A {PARENT_CHAIN} -j {chain}")


def test_security_groups_are_enforced_between_containers(docker_image: str, bridge: Bridge) -> None:
    run_id = uuid.uuid4().hex[:10]
    server, client = f"dockyard-fwtest-{run_id}-server", f"dockyard-fwtest-{run_id}-client"
    server_ip, client_ip = bridge.address(10), bridge.address(11)
    firewall = Firewall(f"arn:aws:ecs:us-east-1:123456789012:container-instance/fwtest/{uuid.uuid4().hex}")
    common = [
        "run",
        "-d",
        "--runtime",
        "runc",
        "--network",
        bridge.name,
        "--label",
        "dockyard.test.run=" + run_id,
    ]
    try:
        docker(
            *common,
            "--name",
            server,
            "--ip",
            server_ip,
            docker_image,
            "httpd",
            "-f",
            "-p",
            str(PORT),
            "-h",
            "/www",
        )
        docker(*common, "--name", client, "--ip", client_ip, docker_image, "sleep", "300")
        wait_until(lambda: fetch_from(client, server_ip), deadline_s=30, what="httpd, before any firewall")

        def state(*cidrs: str, port: int = PORT) -> list[dict[str, Any]]:
            rules = [{"protocol": "tcp", "fromPort": port, "toPort": port, "cidrs": list(cidrs)}]
            return [{"networkInterfaceId": "eni-srv", "privateIPv4Address": server_ip, "ingress": rules}]

        assert firewall.apply(state(f"{client_ip}/32", port=22))  # the group does not open 8080
        assert not fetch_from(client, server_ip)
        assert fetch_from_host(server_ip)  # the host itself is not filtered

        assert firewall.apply(state(f"{client_ip}/32"))  # authorize-security-group-ingress from the client
        wait_until(lambda: fetch_from(client, server_ip), deadline_s=10, what="8080 opened to the client")
        assert jumps_to(firewall.chain) == 1

        assert firewall.apply(state("192.0.2.0/24"))  # open to others only
        assert not fetch_from(client, server_ip)
        assert fetch_from_host(server_ip)

        assert firewall.apply([])  # no interfaces listed: nothing filtered
        assert fetch_from(client, server_ip)
        assert jumps_to(firewall.chain) == 1
    finally:
        docker("rm", "-f", server, client, check=False)
        firewall.remove()
    assert jumps_to(firewall.chain) == 0
    assert (
        subprocess.run(["iptables", "-S", firewall.chain], capture_output=True, check=False).returncode != 0
    )

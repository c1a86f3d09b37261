"""Security-group ingress of awsvpc tasks, enforced with iptables on this host.

The server sends the whole desired state as a ``FirewallMessage`` (:mod:`dockyard.core.agent_protocol`):
every awsvpc interface on this instance with its ingress resolved to IPv4 CIDRs. :class:`Firewall` turns it
into one chain of the ``filter`` table that this agent owns, ``DYFW-<8 hex of the instance id>`` (several
agents may share one Docker Engine, each with its own chain), jumped to from the top of Docker's
``DOCKER-USER`` chain (which Docker's ``FORWARD`` chain calls first). The chain holds, in order:

- ``-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN``: replies of admitted connections, and of those
  the tasks opened, pass;
- per interface ``-d <address>/32``: one ``RETURN`` per rule and source CIDR, then ``-j DROP``.

``RETURN`` hands the packet back to ``DOCKER-USER`` and Docker's own rules; interfaces not listed are not
touched. The chain's contents are replaced atomically (``iptables-restore --noflush`` with the chain
declared, which flushes it first). Traffic from the host itself leaves through ``OUTPUT`` and is not
filtered. Tasks on one subnet share a Docker bridge, so their traffic is bridged, not routed: iptables sees
it only with ``br_netfilter`` and ``net.bridge.bridge-nf-call-iptables=1``, which :meth:`Firewall.prepare`
ensures (a warning when it cannot).

The chain is left in place when the agent stops (its tasks keep running); the next agent start re-applies
what the server sends. Applying runs on a worker thread (:meth:`Firewall.submit` never blocks), latest
state wins; a failing iptables is logged, never fatal, and the state is applied again with a growing wait
(the server sends a state only when it changes, so the agent must not give up on one). IPv4 only: the
tasks' networks have no IPv6.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("dockyard.agent.firewall")

CHAIN_PREFIX = "DYFW-"
PARENT_CHAIN = "DOCKER-USER"
BRIDGE_NF_CALL_IPTABLES = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
COMMAND_TIMEOUT_S = 30.0
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
"""A state iptables did not take is applied again after this wait, doubling up to the maximum, until it
takes or a newer state replaces it."""
MAX_JUMPS_REMOVED = 16
_PROTOCOLS = {"tcp", "udp", "icmp"}


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str
    """stderr and stdout, for the log."""


class CommandRunner(Protocol):
    """Runs one command (``argv``, with ``stdin`` as its input) and reports how it ended."""

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult: ...


def run_command(argv: Sequence[str], stdin: str | None = None) -> CommandResult:
    """The real runner: a subprocess; a missing program is returncode 127."""
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        return CommandResult(127, str(exc))
    except subprocess.TimeoutExpired:
        return CommandResult(124, f"{argv[0]} timed out after {COMMAND_TIMEOUT_S:g} s")
    return CommandResult(done.returncode, (done.stderr + done.stdout).strip())


def chain_name(container_instance_arn: str) -> str:
    """``DYFW-`` and the first 8 hex digits of the instance id (the ARN's last part); an id without 8 hex
    digits is hashed instead."""
    instance_id = container_instance_arn.rsplit("/", 1)[-1].lower()
    digits = re.sub(r"[^0-9a-f]", "", instance_id)
    if len(digits) < 8:
        digits = hashlib.sha256(instance_id.encode()).hexdigest()
    return CHAIN_PREFIX + digits[:8]


def ruleset(chain: str, interfaces: Sequence[Mapping[str, Any]]) -> str:
    """The ``iptables-restore --noflush`` input that makes ``chain`` enforce ``interfaces`` (the message's
    ``interfaces``). Entries that are not well formed are left out with a warning: an interface without a
    valid address is not filtered, a rule that does not parse admits nothing."""
    lines = [
        "*filter",
        f":{chain} - [0:0]",
        f"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
    ]
    for interface in interfaces:
        address = _ipv4(interface.get("privateIPv4Address"))
        if address is None:
            log.warning("firewall: interface %r has no IPv4 address: not filtered", interface)
            continue
        destination = f"-d {address}/32"
        for rule in interface.get("ingress") or []:
            match = _match(rule) if isinstance(rule, Mapping) else None
            if match is None:
                log.warning("firewall: ignoring a malformed ingress rule of %s: %r", address, rule)
                continue
            for cidr in rule.get("cidrs") or []:
                source = _ipv4_network(cidr)
                if source is None:
                    log.warning("firewall: ignoring source %r of an ingress rule of %s", cidr, address)
                    continue
                lines.append(f"-A {chain} {destination}{match} -s {source} -j RETURN")
        lines.append(f"-A {chain} {destination} -j DROP")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _match(rule: Mapping[str, Any]) -> str | None:
    """The protocol and port part of one rule's iptables lines (with a leading space), or None."""
    protocol = str(rule.get("protocol", "")).lower()
    if protocol in {"-1", "all"}:
        return ""
    if protocol not in _PROTOCOLS:
        if protocol.isdigit() and 0 <= int(protocol) <= 255:
            return f" -p {int(protocol)}"
        return None
    low, high = _int(rule.get("fromPort")), _int(rule.get("toPort"))
    if protocol == "icmp":
        if low is None or low == -1:  # any type
            return " -p icmp"
        if not 0 <= low <= 255 or (high is not None and not -1 <= high <= 255):
            return None
        code = "" if high is None or high == -1 else f"/{high}"
        return f" -p icmp -m icmp --icmp-type {low}{code}"
    if low is None or high is None or not 0 <= low <= high <= 65535:
        return None
    ports = str(low) if low == high else f"{low}:{high}"
    return f" -p {protocol} -m {protocol} --dport {ports}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ipv4(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


def _ipv4_network(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=False))
    except ValueError:
        return None


class Firewall:
    """This agent's chain: :meth:`apply` a desired state now, or :meth:`submit` it to the worker thread."""

    def __init__(
        self,
        container_instance_arn: str,
        *,
        run: CommandRunner = run_command,
        iptables: str = "iptables",
        iptables_restore: str = "iptables-restore",
        bridge_sysctl: Path = BRIDGE_NF_CALL_IPTABLES,
    ) -> None:
        self.chain = chain_name(container_instance_arn)
        self._run = run
        self._iptables = iptables
        self._restore = iptables_restore
        self._bridge_sysctl = bridge_sysctl
        self._prepared = False
        self._installed = False
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the worker -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="firewall", daemon=True)
        self._thread.start()

    def submit(self, interfaces: Sequence[Mapping[str, Any]]) -> None:
        """Have the worker apply this state (replacing any not applied yet); returns at once."""
        with self._lock:
            self._pending = [dict(i) for i in interfaces]
        self._wake.set()

    def close(self) -> None:
        """Stop the worker; the chain stays (the tasks keep running)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=COMMAND_TIMEOUT_S)

    def _work(self) -> None:
        retry_s: float | None = None
        """While the pending state failed to apply: how long to wait before trying it again."""
        while not self._stop.is_set():
            self._wake.wait(retry_s)
            self._wake.clear()
            with self._lock:
                pending = self._pending
            if pending is None or self._stop.is_set():
                continue
            try:
                applied = self.apply(pending)
            except Exception:
                log.exception("firewall: applying the security groups failed")
                applied = False
            with self._lock:
                if applied and self._pending is pending:  # else a newer state is next, at once
                    self._pending = None
            retry_s = None if applied else min(RETRY_MAX_S, 2 * retry_s if retry_s else RETRY_FIRST_S)

    # --- applying ---------------------------------------------------------------------------------------

    def apply(self, interfaces: Sequence[Mapping[str, Any]]) -> bool:
        """Make the chain enforce ``interfaces``; whether iptables took it. Nothing to enforce on a host
        that never had this agent's chain installs nothing."""
        if not interfaces and not self._installed and not self._chain_exists():
            return True
        if not self._prepared:
            self.prepare()
        restored = self._run([self._restore, "--wait", "--noflush"], ruleset(self.chain, interfaces))
        if restored.returncode != 0:
            log.error("firewall: iptables-restore failed (%d): %s", restored.returncode, restored.output)
            return False
        if not self._ensure_jump():
            return False
        self._installed = True
        log.info("firewall: %s enforces the ingress of %d interfaces", self.chain, len(interfaces))
        return True

    def prepare(self) -> None:
        """Make bridged traffic traverse iptables: load ``br_netfilter`` (it may be built in) and set
        ``net.bridge.bridge-nf-call-iptables=1``; a warning when that is impossible."""
        self._prepared = True
        self._run(["modprobe", "br_netfilter"])
        try:
            if self._bridge_sysctl.read_text().strip() != "1":
                self._bridge_sysctl.write_text("1\n")
        except OSError as exc:
            log.warning(
                "firewall: cannot set net.bridge.bridge-nf-call-iptables=1 (%s): traffic between tasks on "
                "one subnet bypasses the security groups",
                exc,
            )

    def remove(self) -> None:
        """Take the chain and its jump away (for tests and clean-ups; the agent itself never does)."""
        base = self._base()
        for _ in range(MAX_JUMPS_REMOVED):
            if self._run([*base, "-D", PARENT_CHAIN, "-j", self.chain]).returncode != 0:
                break
        self._run([*base, "-F", self.chain])
        self._run([*base, "-X", self.chain])
        self._installed = False

    def _chain_exists(self) -> bool:
        return self._run([*self._base(), "-S", self.chain]).returncode == 0

    def _base(self) -> list[str]:
        return [self._iptables, "--wait", "-t", "filter"]

    def _ensure_jump(self) -> bool:
        """``DOCKER-USER`` (made, and called from ``FORWARD``, if Docker has not made it) jumps to the chain
        first — inserted once."""
        base = self._base()
        if self._run([*base, "-S", PARENT_CHAIN]).returncode != 0:
            made = self._run([*base, "-N", PARENT_CHAIN])
            if made.returncode != 0 and self._run([*base, "-S", PARENT_CHAIN]).returncode != 0:
                log.error("firewall: cannot create %s: %s", PARENT_CHAIN, made.output)
                return False
            if self._run([*base, "-C", "FORWARD", "-j", PARENT_CHAIN]).returncode != 0:
                self._run([*base, "-I", "FORWARD", "1", "-j", PARENT_CHAIN])
        if self._run([*base, "-C", PARENT_CHAIN, "-j", self.chain]).returncode == 0:
            return True
        inserted = self._run([*base, "-I", PARENT_CHAIN, "1", "-j", self.chain])
        if inserted.returncode != 0:
            log.error("firewall: cannot jump from %s to %s: %s", PARENT_CHAIN, self.chain, inserted.output)
            return False
        return True

"""The kube-proxy role, iptables mode: one cluster's Services made reachable on this machine.

``KubeProxy(cluster, *, run=run_command, lock_path=LOCK_PATH)``; ``sync(services, endpoint_slices)``
renders :func:`dockyard.agent.kubelet.proxy_rules.render` and, when the text differs from what this
instance applied last, applies it in one ``iptables-restore --wait --noflush`` (chains of this cluster
that are no longer wanted are flushed and deleted in the same input), then makes sure of the jumps from
the built-in chains (``nat`` PREROUTING and OUTPUT → ``…-SERVICES``, POSTROUTING → ``…-POSTROUTING``;
``filter`` OUTPUT and FORWARD with ``--ctstate NEW`` → ``…-SERVICES``), inserted first as kube-proxy
does. ``close()`` removes this cluster's jumps and chains.

Docker on this machine drives iptables through ``iptables`` (nf_tables backend), as
:mod:`dockyard.agent.firewall` does; so does this module. Pods of a cluster share one bridge: a pod's
ClusterIP packet goes to the gateway (the host), is DNATed in PREROUTING and routed back onto the bridge,
where Docker's own ``-i br -o br -j ACCEPT`` admits it in FORWARD.

Threading: an instance is not thread-safe; call it from one thread (the node loop). Several instances,
in one process or many (node agents of one or several clusters on one machine), serialize on an
exclusive ``flock`` of ``lock_path``. A failing iptables raises :class:`ProxyError`; the next ``sync``
tries again (nothing is remembered as applied).
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dockyard.agent.firewall import CommandRunner, run_command
from dockyard.agent.kubelet.proxy_rules import Chains, chains_for, render

log = logging.getLogger("dockyard.agent.kubelet.proxy")

LOCK_PATH = Path("/run/lock/dockyard-kube-proxy.lock")
MAX_JUMPS_REMOVED = 16


class ProxyError(RuntimeError):
    """iptables refused this cluster's rules."""


def jumps(chains: Chains) -> list[tuple[str, str, list[str]]]:
    """(table, built-in chain, rule spec) of every jump into this cluster's chains."""
    portals = ["-m", "comment", "--comment", "kubernetes service portals", "-j", chains.services]
    new_portals = ["-m", "conntrack", "--ctstate", "NEW", *portals]
    return [
        ("nat", "PREROUTING", portals),
        ("nat", "OUTPUT", portals),
        (
            "nat",
            "POSTROUTING",
            ["-m", "comment", "--comment", "kubernetes postrouting rules", "-j", chains.postrouting],
        ),
        ("filter", "OUTPUT", new_portals),
        ("filter", "FORWARD", new_portals),
    ]


def existing_chains(saved: str, prefix: str) -> list[str]:
    """The chains named ``prefix…`` that an ``iptables-save`` output declares."""
    return [line[1:].split()[0] for line in saved.splitlines() if line.startswith(":" + prefix)]


class KubeProxy:
    def __init__(
        self, cluster: str, *, run: CommandRunner = run_command, lock_path: Path = LOCK_PATH
    ) -> None:
        self.cluster = cluster
        self.chains = chains_for(cluster)
        self._run = run
        self._lock_path = lock_path
        self._applied: str | None = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _existing(self, table: str) -> list[str]:
        saved = self._run(["iptables-save", "-t", table])
        if saved.returncode != 0:
            raise ProxyError(f"iptables-save -t {table} failed: {saved.output}")
        return existing_chains(saved.output, self.chains.prefix)

    def sync(
        self, services: Sequence[Mapping[str, Any]], endpoint_slices: Sequence[Mapping[str, Any]]
    ) -> None:
        rendered = render(self.cluster, services, endpoint_slices)
        text = rendered.text()
        with self._locked():
            if text != self._applied:
                nat, filter_ = list(rendered.nat), list(rendered.filter)
                for table, wanted, rules in (
                    ("nat", rendered.nat_chains, nat),
                    ("filter", rendered.filter_chains, filter_),
                ):
                    stale = [c for c in self._existing(table) if c not in wanted]
                    rules[:0] = [f":{c} - [0:0]" for c in stale]
                    rules.extend(f"-X {c}" for c in stale)
                payload = "\n".join(["*nat", *nat, "COMMIT", "*filter", *filter_, "COMMIT"]) + "\n"
                restored = self._run(["iptables-restore", "--wait", "--noflush"], payload)
                if restored.returncode != 0:
                    self._applied = None
                    raise ProxyError(f"iptables-restore failed ({restored.returncode}): {restored.output}")
                self._applied = text
            self._ensure_jumps()

    def _ensure_jumps(self) -> None:
        for table, chain, spec in jumps(self.chains):
            base = ["iptables", "--wait", "-t", table]
            if self._run([*base, "-C", chain, *spec]).returncode == 0:
                continue
            inserted = self._run([*base, "-I", chain, "1", *spec])
            if inserted.returncode != 0:
                raise ProxyError(f"cannot jump from {table} {chain}: {inserted.output}")

    def close(self) -> None:
        """Remove this cluster's jumps and chains."""
        with self._locked():
            for table, chain, spec in jumps(self.chains):
                for _ in range(MAX_JUMPS_REMOVED):
                    if self._run(["iptables", "--wait", "-t", table, "-D", chain, *spec]).returncode != 0:
                        break
            lines: list[str] = []
            for table in ("nat", "filter"):
                names = self._existing(table)
                lines += [
                    f"*{table}",
                    *(f":{c} - [0:0]" for c in names),
                    *(f"-X {c}" for c in names),
                    "COMMIT",
                ]
            restored = self._run(["iptables-restore", "--wait", "--noflush"], "\n".join(lines) + "\n")
            self._applied = None
            if restored.returncode != 0:
                raise ProxyError(f"removing the chains failed: {restored.output}")

"""What a request to the kubelet's streaming endpoints asks for, from its path and query. Pure.

The API server calls them as kube-apiserver calls a kubelet (``pkg/registry/core/pod/strategy.go``
``LogLocation`` / ``streamLocation``)::

    GET /containerLogs/<namespace>/<pod>/<container>?follow=true&tailLines=10&timestamps=true&
        sinceSeconds=60&previous=true&limitBytes=4096
    GET /exec/<namespace>/<pod>/<container>?command=sh&command=-c&command=…&input=1&output=1&error=1&tty=1

A bad value is answered 400 with a message as the kubelet words it (:class:`OptionsError`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote


class OptionsError(ValueError):
    """A request the kubelet refuses with 400; the message is its plain-text body."""


@dataclass(frozen=True, slots=True)
class Target:
    """The endpoint (``containerLogs`` or ``exec``) and the container a path names."""

    endpoint: str
    namespace: str
    pod: str
    container: str


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    timestamps: bool = False
    previous: bool = False
    limit_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ExecOptions:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


ENDPOINTS = ("containerLogs", "exec")


def parse_target(path: str) -> Target | None:
    """The target of ``/<endpoint>/<ns>/<pod>/<container>``, or ``None`` for any other path."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if len(parts) != 4 or parts[0] not in ENDPOINTS or not all(parts):
        return None
    return Target(*parts)


def query_values(query_string: bytes) -> dict[str, list[str]]:
    return parse_qs(query_string.decode("latin-1"), keep_blank_values=True)


def log_options(query: Mapping[str, Sequence[str]]) -> LogOptions:
    """The options of a ``containerLogs`` request. Raises :class:`OptionsError`."""
    since = _int(query, "sinceSeconds", minimum=1)
    tail = _int(query, "tailLines", minimum=0)
    limit = _int(query, "limitBytes", minimum=1)
    return LogOptions(
        follow=_flag(query, "follow"),
        tail_lines=tail,
        since_seconds=since,
        timestamps=_flag(query, "timestamps"),
        previous=_flag(query, "previous"),
        limit_bytes=limit,
    )


def exec_options(query: Mapping[str, Sequence[str]]) -> ExecOptions:
    """The options of an ``exec`` request. Raises :class:`OptionsError` as the kubelet's
    ``remotecommand.NewOptions`` does: at least one stream, a command; stderr is dropped with a TTY
    (a terminal has one output)."""
    command = tuple(query.get("command") or ())
    if not command:
        raise OptionsError("you must specify at least one command for the container")
    stdin, stdout, stderr = _flag(query, "input"), _flag(query, "output"), _flag(query, "error")
    tty = _flag(query, "tty")
    if not (stdin or stdout or stderr):
        raise OptionsError("you must specify at least 1 of stdin, stdout, stderr")
    return ExecOptions(command, stdin, stdout, stderr and not tty, tty)


def _flag(query: Mapping[str, Sequence[str]], name: str) -> bool:
    values = query.get(name) or ()
    return bool(values) and values[0].lower() in ("1", "true")


def _int(query: Mapping[str, Sequence[str]], name: str, *, minimum: int) -> int | None:
    values = query.get(name)
    if not values or values[0] == "":
        return None
    try:
        value = int(values[0])
    except ValueError:
        raise OptionsError(f'{name}: Invalid value: "{values[0]}": must be an integer') from None
    if value < minimum:
        raise OptionsError(f"{name}: Invalid value: {value}: must be greater than or equal to {minimum}")
    return value

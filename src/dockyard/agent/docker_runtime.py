"""``DockerRuntime``: the :class:`ContainerRuntime` protocol over the Docker Engine HTTP API, unix socket.

No Docker SDK: httpx speaks the API (v1.41, Docker 20.10+) directly. Transport failures become
:class:`RuntimeUnavailable`; the engine's error statuses become the other :class:`ContainerRuntimeError`
subclasses carrying Docker's own message. Safe to share between threads (httpx's client is).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from dockyard.agent import docker_api
from dockyard.agent.awslogs import DockerLine
from dockyard.agent.runtime import (
    ContainerCreateError,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerRuntimeError,
    ContainerSpec,
    ContainerStartError,
    ContainerState,
    ExecResult,
    ExecStream,
    ExecTimeout,
    ImageImportError,
    ImagePullError,
    NetworkError,
    PullAuth,
    RuntimeUnavailable,
)

DEFAULT_SOCKET = "/var/run/docker.sock"
API_VERSION = "1.41"
DEFAULT_CGROUP_PARENT = "/docker"
"""Where the cgroupfs driver puts containers that name no ``CgroupParent`` (the daemon's own default)."""
# Headroom over a stop timeout for the engine to deliver SIGKILL and reap the container.
_STOP_GRACE_S = 30.0


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return response.text.strip()


_NETWORK_CREATION = threading.Lock()


class DockerRuntime:
    """Containers on the Docker Engine listening on ``socket_path``."""

    def __init__(
        self,
        socket_path: str = DEFAULT_SOCKET,
        *,
        api_version: str = API_VERSION,
        timeout_s: float = 30.0,
        pull_timeout_s: float = 600.0,
    ) -> None:
        self._socket_path = Path(socket_path)
        self._pull_timeout_s = pull_timeout_s
        self._nests: bool | None = None
        self._limits_storage: bool | None = None
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(uds=socket_path),
            base_url=f"http://docker/v{api_version}",
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> DockerRuntime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _request(
        self, method: str, path: str, *, pass_timeouts: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One API call; transport failures become :class:`RuntimeUnavailable` (timeouts too, unless
        ``pass_timeouts``: then the caller handles ``httpx.TimeoutException``)."""
        self._require_socket()
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            if pass_timeouts:
                raise
            raise RuntimeUnavailable(f"Docker Engine did not answer {method} {path}: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise RuntimeUnavailable(f"Docker Engine unreachable: {exc}") from exc

    def _require_socket(self) -> None:
        # Checked first because httpcore 1.0 leaks the socket of a failed unix connect (ResourceWarning).
        if not self._socket_path.exists():
            raise RuntimeUnavailable(f"Docker Engine unreachable: no socket at {self._socket_path}")

    @staticmethod
    def _check(response: httpx.Response, container_id: str, *, ok: tuple[int, ...] = (200, 204)) -> None:
        if response.status_code in ok:
            return
        if response.status_code == 404:
            raise ContainerNotFound(_message(response) or f"No such container: {container_id}")
        raise ContainerRuntimeError(_message(response))

    # --- images ------------------------------------------------------------------------------------------

    def pull(self, image: str, auth: PullAuth | None = None) -> str | None:
        """Pull ``image``; raises :class:`ImagePullError` with Docker's message, also for a 200 stream."""
        repo, tag = docker_api.split_reference(image)
        self._require_socket()
        headers = {"X-Registry-Auth": docker_api.registry_auth_header(repo, auth)} if auth else {}
        try:
            with self._client.stream(
                "POST",
                "/images/create",
                params={"fromImage": repo, "tag": tag},
                headers=headers,
                timeout=httpx.Timeout(30.0, read=self._pull_timeout_s),
            ) as response:
                lines = list(response.iter_lines())
        except httpx.TimeoutException as exc:
            raise ImagePullError(f"pull of {image} timed out") from exc
        except httpx.TransportError as exc:
            raise RuntimeUnavailable(f"Docker Engine unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ImagePullError(docker_api.pull_error(lines) or _joined_message(lines, response))
        error = docker_api.pull_error(lines)
        if error is not None:
            raise ImagePullError(error)
        return docker_api.pull_digest(lines)

    def image_exists(self, image: str) -> bool:
        response = self._request("GET", f"/images/{quote(image, safe='/:@')}/json")
        if response.status_code == 404:
            return False
        self._check(response, "")
        return True

    def import_image(self, image: str, rootfs_tar: bytes, changes: tuple[str, ...] = ()) -> None:
        """``POST /images/create?fromSrc=-`` with the tarball as the body (``docker import``)."""
        repo, tag = docker_api.split_reference(image)
        params: list[tuple[str, str]] = [("fromSrc", "-"), ("repo", repo), ("tag", tag)]
        params.extend(("changes", change) for change in changes)
        response = self._request(
            "POST",
            "/images/create",
            params=params,
            content=rootfs_tar,
            headers={"Content-Type": "application/x-tar"},
        )
        lines = response.text.splitlines()
        if response.status_code != 200:
            raise ImageImportError(docker_api.pull_error(lines) or _joined_message(lines, response))
        error = docker_api.pull_error(lines)
        if error is not None:
            raise ImageImportError(error)

    # --- engine and networks -------------------------------------------------------------------------------

    def runtimes(self) -> frozenset[str]:
        return frozenset(str(name) for name in (self._info().get("Runtimes") or {}))

    def follow_logs(self, container_id: str, since_s: int, stop: threading.Event) -> Iterator[DockerLine]:
        params = {"follow": "1", "stdout": "1", "stderr": "1", "timestamps": "1", "since": str(since_s)}
        demuxer = docker_api.LogDemuxer()
        self._require_socket()
        try:
            with self._client.stream(
                "GET",
                f"/containers/{quote(container_id)}/logs",
                params=params,
                timeout=httpx.Timeout(self._client.timeout.connect, read=None),
            ) as response:
                if response.status_code != 200:
                    response.read()
                    self._check(response, container_id)
                for chunk in response.iter_raw():
                    yield from demuxer.feed(chunk)
                    if stop.is_set():
                        return
        except httpx.TransportError as exc:
            raise RuntimeUnavailable(f"the log stream of {container_id[:12]} broke: {exc!r}") from exc

    def limits_storage(self) -> bool:
        if self._limits_storage is None:
            self._limits_storage = docker_api.limits_storage(self._info())
        return self._limits_storage

    def nested_cgroup(self, container_id: str) -> str | None:
        if self._nests is None:
            info = self._info()
            self._nests = str(info.get("CgroupVersion")) == "1" and info.get("CgroupDriver") == "cgroupfs"
        # cgroupfs puts a container at <its CgroupParent, "/docker" unless set>/<id> in every hierarchy.
        return f"{DEFAULT_CGROUP_PARENT}/{container_id}" if self._nests else None

    def _info(self) -> dict[str, Any]:
        response = self._request("GET", "/info")
        self._check(response, "")
        info: dict[str, Any] = response.json()
        return info

    def _inspect_network(self, name: str) -> dict[str, Any] | None:
        response = self._request("GET", f"/networks/{quote(name)}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NetworkError(_message(response))
        body = response.json()
        return body if isinstance(body, dict) else None

    def _existing_network(self, name: str, cidr: str) -> str | None:
        network = self._inspect_network(name)
        if network is None:
            return None
        subnets = docker_api.network_subnets(network)
        if cidr not in subnets:
            raise NetworkError(f"network {name} exists with subnet {', '.join(sorted(subnets)) or 'none'}")
        return str(network["Id"])

    def ensure_network(self, name: str, cidr: str, gateway: str, labels: Mapping[str, str]) -> str:
        # One creation at a time: Docker 20.10's address allocator answers concurrent creations of
        # disjoint subnets with "Pool overlaps with other one on this address space".
        with _NETWORK_CREATION:
            return self._ensure_network(name, cidr, gateway, labels)

    def _ensure_network(self, name: str, cidr: str, gateway: str, labels: Mapping[str, str]) -> str:
        existing = self._existing_network(name, cidr)
        if existing is not None:
            return existing
        body = docker_api.network_create_body(name, cidr, gateway, labels)
        response = self._request("POST", "/networks/create", json=body)
        if response.status_code == 201:
            return str(response.json()["Id"])
        # Created meanwhile by another task of the subnet: the engine answers 409, or 403 "Pool overlaps"
        # when the other creation took the address range first.
        existing = self._existing_network(name, cidr)
        if existing is not None:
            return existing
        raise NetworkError(_message(response))

    def remove_network(self, name: str) -> None:
        response = self._request("DELETE", f"/networks/{quote(name)}")
        if response.status_code in (204, 404):
            return
        raise NetworkError(_message(response))

    # --- containers ----------------------------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> str:
        """Create the container named ``spec.name``; raises :class:`ContainerCreateError`."""
        response = self._request(
            "POST", "/containers/create", params={"name": spec.name}, json=docker_api.create_body(spec)
        )
        if response.status_code != 201:
            raise ContainerCreateError(_message(response))
        return str(response.json()["Id"])

    def start(self, container_id: str) -> None:
        response = self._request("POST", f"/containers/{quote(container_id)}/start")
        if response.status_code in (204, 304):  # 304: already running
            return
        if response.status_code == 404:
            raise ContainerNotFound(_message(response))
        raise ContainerStartError(_message(response))

    def stop(self, container_id: str, timeout_s: int | None = None) -> None:
        params = {} if timeout_s is None else {"t": str(timeout_s)}
        # Docker answers once the container has exited, SIGKILL included; wait at least that long.
        deadline = (timeout_s if timeout_s is not None else 300) + _STOP_GRACE_S
        try:
            response = self._request(
                "POST",
                f"/containers/{quote(container_id)}/stop",
                params=params,
                timeout=deadline,
                pass_timeouts=True,
            )
        except httpx.TimeoutException as exc:
            raise RuntimeUnavailable(f"stop of {container_id} did not finish in {deadline} s") from exc
        self._check(response, container_id, ok=(204, 304))  # 304: not running

    def remove(self, container_id: str) -> None:
        response = self._request(
            "DELETE", f"/containers/{quote(container_id)}", params={"force": "1", "v": "1"}
        )
        if response.status_code == 409 and "already in progress" in _message(response):
            return
        self._check(response, container_id, ok=(204, 404))

    def inspect(self, container_id: str) -> ContainerState | None:
        response = self._request("GET", f"/containers/{quote(container_id)}/json")
        if response.status_code == 404:
            return None
        self._check(response, container_id)
        return docker_api.state_from_inspect(response.json())

    def list(self, labels: Mapping[str, str]) -> list[ContainerState]:
        """Every container carrying ``labels``; ones removed between listing and inspecting are left out."""
        filters = json.dumps({"label": [f"{key}={value}" for key, value in labels.items()]})
        response = self._request("GET", "/containers/json", params={"all": "1", "filters": filters})
        self._check(response, "")
        states = (self.inspect(str(summary["Id"])) for summary in response.json())
        found = [state for state in states if state is not None]
        return sorted(found, key=lambda s: (s.created_at is not None, s.created_at), reverse=True)

    def wait_exit(self, container_id: str, timeout_s: float) -> int | None:
        try:
            response = self._request(
                "POST",
                f"/containers/{quote(container_id)}/wait",
                params={"condition": "not-running"},
                timeout=httpx.Timeout(30.0, read=timeout_s),
                pass_timeouts=True,
            )
        except httpx.TimeoutException:
            return None
        self._check(response, container_id)
        return int(response.json()["StatusCode"])

    def stats(self, container_id: str) -> Mapping[str, Any] | None:
        response = self._request(
            "GET", f"/containers/{quote(container_id)}/stats", params={"stream": "false"}
        )
        if response.status_code == 404:
            return None
        self._check(response, container_id)
        body = response.json()
        return body if isinstance(body, dict) else None

    # --- exec and logs ---------------------------------------------------------------------------------

    def exec(self, container_id: str, command: tuple[str, ...], *, timeout_s: float = 10.0) -> ExecResult:
        deadline = time.monotonic() + timeout_s
        session = self.open_exec(container_id, command)
        output = bytearray()
        try:
            while (piece := session.read(timeout_s=max(0.0, deadline - time.monotonic()))) is not None:
                output += piece[1]
            code = session.exit_code(timeout_s=max(0.5, deadline - time.monotonic()))
        finally:
            session.close()
        if code is None:
            raise ExecTimeout(f"exec in {container_id[:12]} did not finish in {timeout_s} s")
        return ExecResult(code, output.decode("utf-8", "replace"))

    def open_exec(
        self, container_id: str, command: tuple[str, ...], *, stdin: bool = False, tty: bool = False
    ) -> DockerExecSession:
        """Create the exec, then start it on a connection of its own that the engine hijacks for the raw
        stream (``Connection: Upgrade``, answered 101), as the docker CLI does."""
        response = self._request(
            "POST",
            f"/containers/{quote(container_id)}/exec",
            json=docker_api.exec_create_body(command, stdin=stdin, tty=tty),
        )
        if response.status_code == 409:
            raise ContainerNotRunning(_message(response))
        self._check(response, container_id, ok=(201,))
        exec_id = str(response.json()["Id"])
        body = json.dumps({"Detach": False, "Tty": tty}).encode()
        path = f"{self._client.base_url.path.rstrip('/')}/exec/{exec_id}/start"
        self._require_socket()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(self._client.timeout.connect)
            connection.connect(str(self._socket_path))
            connection.sendall(docker_api.hijack_request(path, body))
            head, rest = _read_head(connection)
        except OSError as exc:
            connection.close()
            raise RuntimeUnavailable(f"exec start in {container_id[:12]} failed: {exc!r}") from exc
        status = docker_api.response_status(head)
        if status not in (101, 200):
            connection.close()
            message = head.partition(b"\r\n\r\n")[2] + rest
            if status == 409:
                raise ContainerNotRunning(message.decode("utf-8", "replace").strip())
            raise ContainerRuntimeError(message.decode("utf-8", "replace").strip() or f"HTTP {status}")
        return DockerExecSession(self, exec_id, connection, tty=tty, buffered=rest)

    def _exec_inspect(self, exec_id: str) -> dict[str, Any]:
        response = self._request("GET", f"/exec/{exec_id}/json")
        self._check(response, exec_id)
        body: dict[str, Any] = response.json()
        return body

    def _exec_resize(self, exec_id: str, height: int, width: int) -> None:
        response = self._request("POST", f"/exec/{exec_id}/resize", params={"h": height, "w": width})
        self._check(response, exec_id, ok=(200, 201))

    def read_logs(
        self, container_id: str, *, since_s: int = 0, tail: int | None = None
    ) -> builtins.list[DockerLine]:
        params = {"stdout": "1", "stderr": "1", "timestamps": "1", "since": str(since_s)}
        params["tail"] = "all" if tail is None else str(tail)
        response = self._request("GET", f"/containers/{quote(container_id)}/logs", params=params)
        self._check(response, container_id)
        demuxer = docker_api.LogDemuxer()
        return demuxer.feed(response.content)


def _read_head(connection: socket.socket) -> tuple[bytes, bytes]:
    """Read a raw HTTP response head; returns (head including the blank line, bytes already read past it)."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    head, sep, rest = bytes(data).partition(b"\r\n\r\n")
    return head + sep, rest


class DockerExecSession:
    """An exec's hijacked connection: stdin is written to it, the output read from it (multiplexed
    frames without a TTY, raw bytes with one); the exit code comes from ``GET /exec/{id}/json``."""

    def __init__(
        self, runtime: DockerRuntime, exec_id: str, connection: socket.socket, *, tty: bool, buffered: bytes
    ) -> None:
        self._runtime = runtime
        self.exec_id = exec_id
        self._connection = connection
        self._tty = tty
        self._demuxer = docker_api.FrameDemuxer()
        self._pending: list[tuple[ExecStream, bytes]] = []
        self._ended = False
        self._closed = False
        if buffered:
            self._take(buffered)

    def _take(self, chunk: bytes) -> None:
        if self._tty:
            self._pending.append(("stdout", chunk))
        else:
            self._pending.extend(self._demuxer.feed(chunk))

    def write(self, data: bytes) -> None:
        self._connection.sendall(data)

    def close_stdin(self) -> None:
        # OSError: the engine already closed it, the process has ended.
        with contextlib.suppress(OSError):
            self._connection.shutdown(socket.SHUT_WR)

    def read(self, timeout_s: float | None = None) -> tuple[ExecStream, bytes] | None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._pending:
            if self._ended:
                return None
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ExecTimeout(f"no output from exec {self.exec_id[:12]} in {timeout_s} s")
            self._connection.settimeout(remaining)
            try:
                chunk = self._connection.recv(65536)
            except TimeoutError as exc:
                raise ExecTimeout(f"no output from exec {self.exec_id[:12]} in {timeout_s} s") from exc
            except OSError:
                chunk = b""
            if not chunk:
                self._ended = True
            else:
                self._take(chunk)
        return self._pending.pop(0)

    def resize(self, height: int, width: int) -> None:
        if self._tty:
            self._runtime._exec_resize(self.exec_id, height, width)

    def exit_code(self, timeout_s: float = 5.0) -> int | None:
        deadline = time.monotonic() + timeout_s
        while True:
            details = self._runtime._exec_inspect(self.exec_id)
            if not details.get("Running") and details.get("ExitCode") is not None:
                return int(details["ExitCode"])
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)  # the engine records the exit a moment after the stream ends

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._connection.close()


def _joined_message(lines: list[str], response: httpx.Response) -> str:
    text = " ".join(line.strip() for line in lines if line.strip())
    try:
        body = json.loads(text)
    except ValueError:
        return text or f"HTTP {response.status_code}"
    return str(body.get("message", text)) if isinstance(body, dict) else text

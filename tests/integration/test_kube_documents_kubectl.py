"""Real kubectl reads dockyard's discovery and OpenAPI documents (served by a tiny local HTTP server)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dockyard.control.kube import discovery, openapi

KUBECTL = str(Path(sys.executable).parent / "kubectl")
"""kubectl 1.33, which scripts/setup installs into the virtualenv (the one on PATH may be another version)."""


@pytest.fixture(scope="module", autouse=True)
def kubectl_installed() -> None:
    if not Path(KUBECTL).is_file():
        pytest.fail(f"{KUBECTL} is missing: scripts/setup installs kubectl v1.33")


def _document(path: str, accept: str | None) -> tuple[object, str]:
    mode, content_type = discovery.negotiate(accept)
    aggregated = mode == "aggregated"
    if path == "/version":
        return discovery.version_info(), "application/json"
    if path == "/api":
        if aggregated:
            return discovery.aggregated_core(content_type), content_type
        return discovery.api_versions("127.0.0.1:443"), "application/json"
    if path == "/apis":
        if aggregated:
            return discovery.aggregated_groups(content_type), content_type
        return discovery.api_group_list(), "application/json"
    if path == "/openapi/v3":
        return openapi.index(), "application/json"
    if path.startswith("/openapi/v3/"):
        return openapi.document_for_path(path.removeprefix("/openapi/v3/")), "application/json"
    return None, "application/json"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        doc, content_type = _document(urlsplit(self.path).path, self.headers.get("Accept"))
        if doc is None:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _kubectl(server: str, *args: str, tmp_path: object) -> str:
    done = subprocess.run(
        [KUBECTL, "--server", server, "--cache-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kubectl_api_resources(server: str, tmp_path: object) -> None:
    out = _kubectl(server, "api-resources", tmp_path=tmp_path)
    lines = {tuple(line.split()[:2]) for line in out.splitlines()}
    assert ("deployments", "deploy") in lines
    assert ("pods", "po") in lines
    assert ("namespaces", "ns") in lines


def test_kubectl_explain_deployment_spec(server: str, tmp_path: object) -> None:
    out = _kubectl(server, "explain", "deployment.spec", tmp_path=tmp_path)
    assert "KIND:       Deployment" in out
    assert "replicas" in out
    assert "template" in out

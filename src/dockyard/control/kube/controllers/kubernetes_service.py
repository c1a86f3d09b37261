"""The ``default/kubernetes`` Service and its endpoints, as kube-apiserver's endpoint reconciler keeps them.

Pure. kube-apiserver (not the controller manager) owns these: a selector-less ClusterIP Service on the
first address of the service range (``ipalloc.kubernetes_service_ip``), port ``https`` 443, labels
``component: apiserver`` and ``provider: kubernetes``; the Endpoints (``skip-mirror``, so the mirroring
controller leaves it alone) and the EndpointSlice ``kubernetes`` list the API server addresses. An
applier creates them when missing and rewrites them when the addresses change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from dockyard.control.kube.controllers.actions import Obj
from dockyard.control.kube.controllers.endpoints import SERVICE_NAME_LABEL, SLICE_VERSION


def kubernetes_service(cluster_ip: str, *, port: int = 443) -> Obj:
    """``default/kubernetes`` as kube-apiserver creates it: ClusterIP, port ``https``, no selector."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
    }


def kubernetes_endpoints(api_addresses: Sequence[str], *, port: int = 443) -> tuple[Obj, Obj]:
    """The Endpoints and EndpointSlice ``default/kubernetes`` pointing at the API server addresses."""
    ips = sorted(api_addresses, key=lambda ip: ipaddress.ip_address(ip).packed)
    endpoints: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {
                "addresses": [{"ip": ip} for ip in ips],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }
    slice_: Obj = {
        "apiVersion": SLICE_VERSION,
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {SERVICE_NAME_LABEL: "kubernetes"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    return endpoints, slice_

"""Each EKS cluster's own certificate authority, and the serving certificate of its Kubernetes API.

At CreateCluster a cluster gets:

- a CA: an EC P-256 key and a self-signed certificate (``CN=kubernetes``, as EKS names its clusters' CAs;
  basicConstraints CA:TRUE, pathlen 0; keyCertSign, cRLSign, digitalSignature), valid ten years. Its PEM,
  base64-encoded, is DescribeCluster's ``certificateAuthority.data``, which ``aws eks update-kubeconfig``
  writes as the kubeconfig's ``certificate-authority-data``;
- a serving certificate signed by that CA for ``127.0.0.1``, ``::1``, ``localhost`` and the in-cluster
  names (``kubernetes``, ``kubernetes.default``, ``…svc``, ``…svc.cluster.local``), serverAuth only, with
  its own P-256 key, for the HTTPS listener at ``https://127.0.0.1:<port>``.

For the API server's calls to kubelets (logs, exec) :func:`issue_kubelet_client_cert` signs, with the
same CA, the client certificate kube-apiserver's ``--kubelet-client-certificate`` is on EKS
(``CN=kube-apiserver-kubelet-client``, ``O=system:masters``, clientAuth only); it is made on demand and not
stored.

Both private keys are returned in PEM (PKCS#8, unencrypted) for the store: whoever reads the store can
serve as the cluster's API server or mint certificates it trusts.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockyard.store.eks import ClusterPki

CA_VALIDITY = timedelta(days=3650)
SERVING_VALIDITY = timedelta(days=3650)
SERVING_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVING_ADDRESSES = ("127.0.0.1", "::1")
KUBELET_CLIENT_VALIDITY = timedelta(days=365)
KUBELET_CLIENT_NAME = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUP = "system:masters"
# Certificates are back-dated a little so a client whose clock runs slightly behind accepts them.
_BACKDATE = timedelta(minutes=5)


def issue_cluster_pki(cluster_name: str, now: datetime) -> ClusterPki:
    """A new CA and a serving certificate it signed, for the cluster ``cluster_name`` (named in the
    serving certificate's subject), valid from ``now``."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVING_DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVING_ADDRESSES]
    serving = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, cluster_name),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + SERVING_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ClusterPki(
        ca_cert_pem=_cert_pem(ca_cert),
        ca_key_pem=_key_pem(ca_key),
        serving_cert_pem=_cert_pem(serving),
        serving_key_pem=_key_pem(key),
    )


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    cert_pem: str
    key_pem: str
    """PKCS#8, unencrypted."""

    def __repr__(self) -> str:
        return "ClientCertificate(cert_pem=..., key_pem='***')"


def issue_kubelet_client_cert(pki: ClusterPki, now: datetime) -> ClientCertificate:
    """A client certificate the cluster's CA signed for the API server's calls to its kubelets
    (``CN=kube-apiserver-kubelet-client``, ``O=system:masters``, clientAuth), valid a year from ``now``,
    with a key of its own."""
    ca_key = serialization.load_pem_private_key(pki.ca_key_pem.encode(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the cluster's CA key is not an EC key")
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert_pem.encode())
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, KUBELET_CLIENT_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, KUBELET_CLIENT_NAME),
        ]
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + KUBELET_CLIENT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ClientCertificate(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def certificate_authority_data(ca_cert_pem: str) -> str:
    """DescribeCluster's ``certificateAuthority.data``: the CA certificate's PEM, base64-encoded."""
    return base64.b64encode(ca_cert_pem.encode()).decode()


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

"""The cluster CA, the API server's serving certificate and the admin kubeconfig.

Generated on first start into the data directory and reused after, so a restarted server
keeps its identity and old kubeconfigs keep working. ECDSA P-256 keys: fast to make, and
accepted by kubectl and every client library.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass

import json
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

VALIDITY_DAYS = 3650


@dataclass
class Paths:
    ca_cert: str
    ca_key: str
    server_cert: str
    server_key: str
    admin_cert: str
    admin_key: str

    @classmethod
    def under(cls, tls_dir: str) -> Paths:
        j = lambda n: os.path.join(tls_dir, n)
        return cls(j("ca.crt"), j("ca.key"), j("server.crt"), j("server.key"), j("admin.crt"), j("admin.key"))


def _write(path: str, data: bytes, private: bool = False) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(path: str) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _load_cert(path: str) -> x509.Certificate:
    from cryptography import x509

    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server_names: list[str] | None = None,
    client: bool = False,
) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = _now()
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        usages = []
        if server_names is not None:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names:
        alt: list[x509.GeneralName] = []
        for n in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def server_names(extra: list[str], service_ip: str | None) -> list[str]:
    names = ["127.0.0.1", "::1", "localhost", socket.gethostname(), "kubernetes", "kubernetes.default",
             "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]
    if service_ip:
        names.append(service_ip)
    for n in extra:
        if n not in names:
            names.append(n)
    return names


def ensure(tls_dir: str, sans: list[str]) -> Paths:
    """Create what is missing; reissue the serving cert when the wanted names changed.

    A restart with everything in place reads one small file and imports no cryptography."""
    os.makedirs(tls_dir, mode=0o700, exist_ok=True)
    p = Paths.under(tls_dir)
    names_file = p.server_cert + ".names"
    if all(os.path.exists(f) for f in (p.ca_cert, p.ca_key, p.server_cert, p.server_key, p.admin_cert, p.admin_key)):
        try:
            with open(names_file) as f:
                if set(sans) <= set(json.load(f)):
                    return p
        except (OSError, ValueError):
            pass
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    if not (os.path.exists(p.ca_cert) and os.path.exists(p.ca_key)):
        ca_key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"nanokube-ca@{int(_now().timestamp())}")])
        ca = _issue(name, ca_key, name, ca_key, ca=True)
        _write(p.ca_key, _key_pem(ca_key), private=True)
        _write(p.ca_cert, _pem(ca))
        for stale in (p.server_cert, p.admin_cert):
            if os.path.exists(stale):
                os.unlink(stale)
    ca = _load_cert(p.ca_cert)
    ca_key = _load_key(p.ca_key)
    if not _has_names(p.server_cert, sans):
        key = _key()
        cert = _issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
                      key, ca.subject, ca_key, server_names=sans)
        _write(p.server_key, _key_pem(key), private=True)
        _write(p.server_cert, _pem(cert))
    _write(names_file, json.dumps(sans).encode())
    if not os.path.exists(p.admin_cert):
        key = _key()
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "system:admin"),
        ])
        cert = _issue(subject, key, ca.subject, ca_key, client=True)
        _write(p.admin_key, _key_pem(key), private=True)
        _write(p.admin_cert, _pem(cert))
    return p


def _has_names(path: str, names: list[str]) -> bool:
    from cryptography import x509

    if not os.path.exists(path):
        return False
    try:
        cert = _load_cert(path)
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    have = {str(v) for v in alt.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in alt.get_values_for_type(x509.IPAddress)}
    return all(str(ipaddress.ip_address(n)) in have if _is_ip(n) else n in have for n in names)


def _is_ip(n: str) -> bool:
    try:
        ipaddress.ip_address(n)
        return True
    except ValueError:
        return False


def _b64(path: str) -> str:
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path: str, p: Paths, server: str) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "nanokube", "cluster": {
            "server": server, "certificate-authority-data": _b64(p.ca_cert)}}],
        "users": [{"name": "admin", "user": {
            "client-certificate-data": _b64(p.admin_cert), "client-key-data": _b64(p.admin_key)}}],
        "contexts": [{"name": "nanokube", "context": {"cluster": "nanokube", "user": "admin"}}],
        "current-context": "nanokube",
        "preferences": {},
    }
    _write(path, yaml.safe_dump(doc, sort_keys=False).encode(), private=True)


def client_identity(peer: dict[str, Any] | None) -> tuple[str, list[str]] | None:
    """(user, groups) from a verified client certificate, as upstream reads CN and O.

    `peer` is what the TLS layer reports for the certificate it verified against the CA."""
    if not peer:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in peer.get("subject") or ():
        for attr, value in rdn:
            if attr == "commonName" and not cn:
                cn = value
            elif attr == "organizationName":
                orgs.append(value)
    return cn, orgs

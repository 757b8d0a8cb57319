"""Throwaway certificates for TLS tests, made with the ``openssl`` command (``.ci/run`` installs it).

One CA signs a certificate for 127.0.0.1 that servers present (and use as clients of each other:
a replica of its primary, a Sentinel of the servers it watches) and one a client presents.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = "2"
KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")  # quick to make, unencrypted


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(directory: Path) -> Certificates:
    """A new CA in ``directory`` and the server and client certificates it signs."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    _openssl("req", "-x509", *KEY, "-keyout", ca_key, "-out", ca, "-days", DAYS, "-subj", "/CN=MUTT test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    server_cert, server_key = _signed(directory, "server", ca, ca_key,
                                      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
    client_cert, client_key = _signed(directory, "client", ca, ca_key, "extendedKeyUsage=clientAuth\n")
    return Certificates(ca=ca, server_cert=server_cert, server_key=server_key, client_cert=client_cert, client_key=client_key)


def _signed(directory: Path, name: str, ca: Path, ca_key: Path, extensions: str) -> tuple[Path, Path]:
    cert, key, request, extension_file = (directory / f"{name}{suffix}" for suffix in (".crt", ".key", ".csr", ".ext"))
    extension_file.write_text(extensions)
    _openssl("req", "-new", *KEY, "-keyout", key, "-out", request, "-subj", f"/CN=mutt-test-{name}")
    _openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
             "-days", DAYS, "-extfile", extension_file)
    return cert, key


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)

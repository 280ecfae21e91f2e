"""A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost.

Made by `trustme` (a test dependency): the sandbox needs TLS only for the checks that run
Klaviyo's own SDK against it, which follows `links.next` over https only. `trustme` is imported
when a certificate is asked for, so the demo and plain-http uses of the sandbox run without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: Path
    """The CA to trust (`httpx` `verify=`, the SDK's `ssl_ca_cert`)."""
    cert_file: Path
    key_file: Path


def write_self_signed(directory: Path) -> TlsFiles:
    """Write a CA and a server certificate it signed (for 127.0.0.1 and localhost) into `directory`."""
    try:
        import trustme
    except ImportError as exc:  # pragma: no cover - only without the test extras
        raise RuntimeError("the sandbox's TLS needs trustme: pip install 'kx-edge[test]'") from exc
    ca = trustme.CA(organization_name="kx-edge sandbox CA")
    server = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca_file))
    server.private_key_pem.write_to_path(str(files.key_file))
    files.key_file.chmod(0o600)
    for index, pem in enumerate(server.cert_chain_pems):
        pem.write_to_path(str(files.cert_file), append=index > 0)
    return files

"""The sandbox's throwaway TLS files: a CA, and a server certificate for 127.0.0.1 and localhost."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cryptography import x509

from sandbox.tls import write_self_signed


def test_the_server_certificate_names_both_local_addresses_and_its_key_is_private(tmp_path: Path) -> None:
    files = write_self_signed(tmp_path)
    certificate = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    # What uvicorn loads, and what a client trusts: the pair matches and the CA signed it.
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(files.cert_file, files.key_file)
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    certificate.verify_directly_issued_by(ca)

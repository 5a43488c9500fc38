"""`govshare pki`: the CA from the console, a certificate with its key written once to a
private file, revocation and the CRL; the forwarded-certificate settings checked at start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from govshare.core.errors import ConfigError
from govshare.core.permissions import Actor
from govshare.core.runtime import get_runtime
from govshare.core.settings import load_settings
from govshare.pki import service as pki_service
from govshare.systems import service as systems_service
from tests.builders import organization
from tests.conftest import Cli
from tests.systems.builders import system_in


def test_init_issue_revoke_and_crl_from_the_console(govshare_cli: Cli) -> None:
    made = govshare_cli("pki", "init", "--name", "江州市共享平台 CA")
    assert made.exit_code == 0 and "CN=江州市共享平台 CA" in made.output
    assert govshare_cli("pki", "init").exit_code != 0  # once only
    console = Actor.command_line()
    with get_runtime().transaction() as db:
        org = organization(db, "市民政局")
        system_id = systems_service.register_system(
            db, actor=console, data=system_in(organization_id=org.id)
        ).id
    out = govshare_cli.data_dir / "bundle.pem"
    issued = govshare_cli("pki", "issue", str(system_id), "--out", str(out))
    assert issued.exit_code == 0, issued.output
    assert "PRIVATE KEY" in out.read_text() and out.stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate(out.read_bytes().split(b"-----END PRIVATE KEY-----")[1])
    revoked = govshare_cli("pki", "revoke", "1", "--reason", "key_compromise")
    assert revoked.exit_code == 0 and "私钥泄露" in revoked.output
    assert govshare_cli("pki", "crl").exit_code == 0
    with get_runtime().transaction() as db:
        crl = x509.load_der_x509_crl(pki_service.current_crl(db) or b"")
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


@pytest.mark.parametrize(
    ("header", "proxies", "message"),
    [
        ("X-SSL-Client-Cert", "", "须同时设置"),
        ("X-SSL-Client-Cert", "10.0.0.1, nginx-host", "'nginx-host' 不是 IP 地址或网段"),
    ],
)
def test_forwarded_certificates_need_a_proxy_address(
    tmp_path: Path, header: str, proxies: str, message: str
) -> None:
    environ = {
        "GOVSHARE_DATA_DIR": str(tmp_path),
        "GOVSHARE_CLIENT_CERT_HEADER": header,
        "GOVSHARE_CLIENT_CERT_PROXIES": proxies,
    }
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_a_generated_key_is_written_as_a_pkcs12_file_and_its_password_shown_once(
    govshare_cli: Cli,
) -> None:
    assert govshare_cli("pki", "init", "--name", "江州市共享平台 CA").exit_code == 0
    with get_runtime().transaction() as db:
        org = organization(db, "市民政局")
        system_id = systems_service.register_system(
            db, actor=Actor.command_line(), data=system_in(organization_id=org.id)
        ).id
    no_file = govshare_cli("pki", "issue", str(system_id), "--p12")
    assert no_file.exit_code != 0 and "--out" in no_file.output
    out = govshare_cli.data_dir / "relief.p12"
    issued = govshare_cli("pki", "issue", str(system_id), "--p12", "--out", str(out))
    assert issued.exit_code == 0, issued.output
    [password] = re.findall(r"口令（只显示这一次，平台不保存）：(\S+)", issued.output)
    assert out.stat().st_mode & 0o077 == 0
    key, cert, _ = pkcs12.load_key_and_certificates(out.read_bytes(), password.encode())
    assert key is not None and cert is not None

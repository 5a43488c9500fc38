"""`govshare federation …` at the console: identity, peering from a CA file, the list, a
hello that fails in one clear line when the peer is not listening, suspension."""

from __future__ import annotations

from pathlib import Path

from govshare.core.runtime import get_runtime
from govshare.pki.service import _self_signed
from tests.builders import operator
from tests.conftest import Cli


def _other_ca(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    cert = _self_signed(ec.generate_private_key(ec.SECP256R1()), "信州区政务数据共享平台 CA")
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_identity_peering_and_suspension_at_the_console(govshare_cli: Cli, tmp_path: Path) -> None:
    assert govshare_cli("db", "upgrade").exit_code == 0
    with get_runtime().transaction() as db_session:
        operator(db_session)
    no_ca = govshare_cli(
        "federation", "init", "--code", "361100", "--url", "https://127.0.0.1:8443"
    )
    assert no_ca.exit_code == 2 and "govshare pki init" in no_ca.output
    assert govshare_cli("pki", "init").exit_code == 0
    bad = govshare_cli("federation", "init", "--code", "3611", "--url", "https://127.0.0.1:8443")
    assert bad.exit_code == 2 and "行政区划代码" in bad.output
    made = govshare_cli("federation", "init", "--code", "361100", "--url", "https://127.0.0.1:8443")
    assert made.exit_code == 0 and "平台证书" in made.output
    ca = govshare_cli("federation", "identity", "--ca")
    assert ca.exit_code == 0 and ca.output.startswith("-----BEGIN CERTIFICATE-----")

    added = govshare_cli(
        "federation", "peer-add", "--code", "361102", "--name", "信州区政务数据共享平台",
        "--level", "county", "--url", "https://127.0.0.1:1", "--anchor", str(_other_ca(tmp_path / "ca.pem")),
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "下级平台" in added.output and "握手未成功" in added.output  # nobody listens there
    listed = govshare_cli("federation", "peers")
    assert "361102" in listed.output and "对接中" in listed.output
    failed = govshare_cli("federation", "messages")
    assert "握手" in failed.output and "未送达" in failed.output
    suspended = govshare_cli("federation", "suspend", "361102", "--reason", "证书更换")
    assert suspended.exit_code == 0 and "已暂停" in suspended.output

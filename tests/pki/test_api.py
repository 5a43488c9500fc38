"""Acceptance (issue 16, BZ§26): under Binzhou a department system with a valid certificate
reads its data; with a token only, or a revoked certificate, it is refused with a message that
says why, and the refusal is audited. The TLS terminator's forwarded certificate is trusted
only from the configured proxy addresses."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from govshare.core.audit.models import AuditEntry
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.identity import service as identity_service
from govshare.identity.models import User
from govshare.identity.schemas import ApiTokenIn
from govshare.pki import service as pki_service
from govshare.pki.models import RevocationReason
from govshare.web.app import create_app
from tests.builders import operator
from tests.http import csrf_for, sign_in
from tests.pki.builders import csr_pem, system
from tests.systems.builders import officer_of

HEADER = "X-SSL-Client-Cert"
PROXY = "10.20.0.5"
READ = "/api/v1/exchange/interfaces"


def _app(db: Session, tmp_path: Path, profile: str) -> FastAPI:
    environ = {
        "GOVSHARE_DATA_DIR": str(tmp_path),
        "GOVSHARE_POLICY_PROFILE": profile,
        "GOVSHARE_CLIENT_CERT_HEADER": HEADER,
        "GOVSHARE_CLIENT_CERT_PROXIES": "10.20.0.0/24, 192.0.2.7",
    }
    runtime = Runtime(
        settings=load_settings(environ=environ),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    return create_app(runtime)


@pytest.fixture
def binzhou(db: Session, tmp_path: Path) -> FastAPI:
    return _app(db, tmp_path, "binzhou")


@pytest.fixture
def via_proxy(binzhou: FastAPI) -> Iterator[TestClient]:
    with TestClient(binzhou, client=(PROXY, 40000)) as client:
        yield client


def _forwarded(pem: str) -> dict[str, str]:
    return {HEADER: urllib.parse.quote(pem, safe="")}  # as nginx's $ssl_client_escaped_cert


def _refusals(db: Session) -> list[dict[str, str]]:
    rows = db.execute(
        select(AuditEntry).where(AuditEntry.action == "pki.authentication.refused")
    ).scalars()
    return [json.loads(r.details) if isinstance(r.details, str) else r.details for r in rows]


def test_under_binzhou_a_certificate_reads_and_a_token_or_revoked_one_is_refused(
    db: Session, binzhou: FastAPI, via_proxy: TestClient
) -> None:
    op, _ = operator(db)
    officer = officer_of(db, "市民政局")
    settings = binzhou.state.runtime.settings
    # The operator creates the CA and the department's officer gets its system a certificate,
    # all through the API.
    assert sign_in(via_proxy, "operator").status_code == 200
    csrf = csrf_for(binzhou, via_proxy)
    created = via_proxy.post(
        "/api/v1/pki/authority", json={"name": "滨州市共享平台 CA"}, headers=csrf
    )
    assert created.status_code == 201, created.text
    sys = system(db, officer)
    issued = via_proxy.post(
        "/api/v1/pki/certificates", json={"system_id": sys.id, "csr": csr_pem()}, headers=csrf
    )
    assert issued.status_code == 201, issued.text
    pem, cert_id = issued.json()["certificate_pem"], issued.json()["id"]
    token = identity_service.issue_api_token(
        db, actor=officer, data=ApiTokenIn(name="救助系统", system_id=sys.id)
    )[1]
    via_proxy.cookies.clear()

    # A valid certificate: the system reads as its department.
    ok = via_proxy.get(READ, headers=_forwarded(pem))
    assert ok.status_code == 200, ok.text
    both = via_proxy.get(READ, headers=_forwarded(pem) | {"Authorization": f"Bearer {token}"})
    assert both.status_code == 200, both.text

    # A token alone: refused, saying a certificate is required.
    alone = via_proxy.get(READ, headers={"Authorization": f"Bearer {token}"})
    assert alone.status_code == 401
    assert alone.headers["content-type"].startswith("application/problem+json")
    assert "数字证书" in alone.json()["detail"] and "仅凭接口令牌不能访问" in alone.json()["detail"]

    # A revoked certificate: refused, saying it was revoked and why.
    pki_service.revoke_certificate(
        db,
        actor=op,
        settings=settings,
        certificate_id=cert_id,
        reason=RevocationReason.KEY_COMPROMISE,
    )
    revoked = via_proxy.get(READ, headers=_forwarded(pem))
    assert revoked.status_code == 401
    assert "已吊销" in revoked.json()["detail"] and "私钥泄露" in revoked.json()["detail"]
    assert [d["reason"] for d in _refusals(db)] == ["certificate_required", "revoked"]

    # The CRL at its public URL lists the serial.
    crl = via_proxy.get("/pki/crl.pem")
    assert crl.status_code == 200 and crl.text.startswith("-----BEGIN X509 CRL-----")
    from cryptography import x509

    parsed = x509.load_pem_x509_crl(crl.content)
    serial = int(issued.json()["serial"], 16)
    assert parsed.get_revoked_certificate_by_serial_number(serial) is not None


def test_the_header_is_ignored_from_an_address_not_trusted(db: Session, binzhou: FastAPI) -> None:
    op, _ = operator(db)
    officer = officer_of(db)
    pki_service.init_authority(db, actor=op, settings=binzhou.state.runtime.settings, name="CA")
    pem = pki_service.issue_from_csr(
        db,
        actor=officer,
        settings=binzhou.state.runtime.settings,
        validity_days=365,
        system_id=system(db, officer).id,
        csr_pem=csr_pem(),
    ).certificate_pem
    with TestClient(binzhou, client=("10.99.0.1", 40000)) as outsider:
        refused = outsider.get(READ, headers=_forwarded(pem))
    assert refused.status_code == 401  # anonymous: the forged header counts for nothing
    with TestClient(binzhou, client=("192.0.2.7", 40000)) as proxy:
        assert proxy.get(READ, headers=_forwarded(pem)).status_code == 200


def test_elsewhere_a_token_alone_still_works(db: Session, tmp_path: Path) -> None:
    app = _app(db, tmp_path, "shangrao")
    officer = officer_of(db)
    token = identity_service.issue_api_token(
        db, actor=officer, data=ApiTokenIn(name="业务系统", system_id=system(db, officer).id)
    )[1]
    with TestClient(app, client=(PROXY, 40000)) as client:
        assert client.get(READ, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_api_hands_a_generated_key_over_as_a_pkcs12_file(db: Session, tmp_path: Path) -> None:
    app = _app(db, tmp_path, "shangrao")
    officer = officer_of(db, "市民政局")
    op, _ = operator(db)
    pki_service.init_authority(db, actor=op, settings=app.state.runtime.settings, name="CA")
    sys = system(db, officer)
    db.commit()
    with TestClient(app) as client:
        assert sign_in(client, db.get(User, officer.user_id).username).status_code == 200
        csrf = csrf_for(app, client)
        wrong = client.post(
            "/api/v1/pki/certificates",
            json={"system_id": sys.id, "hand_over": "zip"},
            headers=csrf,
        )
        assert wrong.status_code == 422 and wrong.json()["field"] == "hand_over"
        issued = client.post(
            "/api/v1/pki/certificates",
            json={"system_id": sys.id, "hand_over": "pkcs12"},
            headers=csrf,
        )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["bundle"] is None and body["key_generated"]
    key, cert, _ = pkcs12.load_key_and_certificates(
        base64.b64decode(body["pkcs12"]), body["pkcs12_password"].encode()
    )
    assert key is not None and cert is not None
    assert format(cert.serial_number, "x") == body["serial"]

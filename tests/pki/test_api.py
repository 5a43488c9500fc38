"""Acceptance (issue 16, BZ§26): under Binzhou a department system with a valid certificate
reads its granted data (an online query of a table resource in the center, through the API,
its certificate forwarded by the TLS terminator); with a token only, or a revoked certificate,
the same query is refused with a 401 that says why, and the refusal is audited. The TLS
terminator's forwarded certificate is trusted only from the configured proxy addresses."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.exchange.center import Center
from govshare.identity import service as identity_service
from govshare.identity.models import User
from govshare.identity.schemas import ApiTokenIn
from govshare.pki import forwarding
from govshare.pki import service as pki_service
from govshare.pki.models import RevocationReason
from govshare.web.app import create_app
from tests.builders import operator, system_of
from tests.exchange.builders import USED_AT, audit_entries, delivery_world, expected_rows
from tests.exchange.conftest import center  # noqa: F401 (the fixture)
from tests.exchange.test_delivery_api import as_json, key_of, token_for
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


def test_under_binzhou_a_certified_system_reads_its_granted_rows_and_a_token_or_revoked_one_is_refused(
    db: Session,
    binzhou: FastAPI,
    via_proxy: TestClient,
    center: Center,  # noqa: F811 (the fixture imported above)
) -> None:
    # A consumer department holding a grant on a population table loaded into the center.
    binzhou.state.runtime.__dict__["center"] = center
    d = delivery_world(db, center)
    system_id = system_of(db, d.w.consumer.id)
    token = token_for(db, d)["Authorization"]
    db.commit()
    query = f"/api/v1/exchange/data/{d.code}?limit=100"
    with clock.frozen(USED_AT):
        # The operator creates the CA and the consumer's data officer gets the system that
        # holds the grant a certificate, both through the API.
        assert sign_in(via_proxy, "operator").status_code == 200
        created = via_proxy.post(
            "/api/v1/pki/authority",
            json={"name": "滨州市共享平台 CA"},
            headers=csrf_for(binzhou, via_proxy),
        )
        assert created.status_code == 201, created.text
        via_proxy.cookies.clear()
        officer = db.get(User, d.w.consumer_officer.user_id)
        assert officer is not None and sign_in(via_proxy, officer.username).status_code == 200
        issued = via_proxy.post(
            "/api/v1/pki/certificates",
            json={"system_id": system_id, "csr": csr_pem()},
            headers=csrf_for(binzhou, via_proxy),
        )
        assert issued.status_code == 201, issued.text
        pem, cert_id = issued.json()["certificate_pem"], issued.json()["id"]
        via_proxy.cookies.clear()

        # With its certificate (forwarded by the TLS terminator) the system reads exactly the
        # rows and fields its grant admits, masked.
        read = via_proxy.get(query, headers=_forwarded(pem))
        assert read.status_code == 200, read.text
        assert read.json()["grant"] == d.grant.number
        assert read.json()["rows"] == as_json(expected_rows(d, key=key_of(binzhou)))
        assert len(read.json()["rows"]) == 30
        # A token of the same department beside the certificate: the same rows.
        both = via_proxy.get(query, headers=_forwarded(pem) | {"Authorization": token})
        assert both.status_code == 200 and both.json()["rows"] == read.json()["rows"]

        # The token alone: refused, saying a certificate is required (BZ§26).
        alone = via_proxy.get(query, headers={"Authorization": token})
        assert alone.status_code == 401
        assert alone.headers["content-type"].startswith("application/problem+json")
        assert alone.json()["detail"] == forwarding.CERTIFICATE_REQUIRED
        assert "仅凭接口令牌不能访问" in alone.json()["detail"]

        # The certificate revoked: the same query is refused, saying it was revoked and why.
        pki_service.revoke_certificate(
            db,
            actor=d.w.op,
            settings=binzhou.state.runtime.settings,
            certificate_id=cert_id,
            reason=RevocationReason.KEY_COMPROMISE,
        )
        db.commit()
        revoked = via_proxy.get(query, headers=_forwarded(pem))
        assert revoked.status_code == 401
        assert revoked.headers["content-type"].startswith("application/problem+json")
        detail = revoked.json()["detail"]
        assert "已吊销" in detail and "私钥泄露" in detail and issued.json()["serial"] in detail
        with_token = via_proxy.get(query, headers=_forwarded(pem) | {"Authorization": token})
        assert with_token.status_code == 401 and "已吊销" in with_token.json()["detail"]

    # Each refusal is audited with its reason; only the two reads reached the data.
    assert [r["reason"] for r in _refusals(db)] == [
        "certificate_required",
        "revoked",
        "revoked",
    ]
    assert [e["rows"] for e in audit_entries(db, "exchange.data.query")] == [30, 30]

    # The CRL at its public URL lists the serial.
    crl = via_proxy.get("/pki/crl.pem")
    assert crl.status_code == 200 and crl.text.startswith("-----BEGIN X509 CRL-----")
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

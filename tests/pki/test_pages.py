"""The certificate page: the operator creates the CA, an officer issues its system a
certificate with a generated key shown once, a bad CSR is refused beside its field, and a
revocation shows in the list."""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.pki import service as pki_service
from govshare.pki.models import SystemCertificate
from tests.builders import count, operator
from tests.http import csrf_for, sign_in_as
from tests.pki.builders import SETTINGS, authority, issued, system
from tests.systems.builders import officer_of

TODAY = "2026-10-12T09:00:00+08:00"


def test_the_ca_issue_and_revoke_through_the_page(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen(TODAY):
        op, _ = operator(db)
        officer = officer_of(db, "市民政局")
        sys = system(db, officer)
        db.commit()
        sign_in_as(client, db, op)
        page = client.get("/pki")
        assert page.status_code == 200 and "建立证书签发机构" in page.text
        made = client.post(
            "/pki/authority", data={"name": "测试市共享平台 CA"}, headers=csrf_for(app, client)
        )
        assert made.status_code == 200 and "CN=测试市共享平台 CA" in made.text

        sign_in_as(client, db, officer)
        headers = csrf_for(app, client)
        bad = client.post(
            "/pki/certificates", data={"system_id": str(sys.id), "csr": "nonsense"}, headers=headers
        )
        assert bad.status_code == 422 and "不是有效的 PEM 格式" in bad.text
        assert count(db, SystemCertificate) == 0
        issued = client.post("/pki/certificates", data={"system_id": str(sys.id)}, headers=headers)
        assert issued.status_code == 200 and "私钥只显示这一次" in issued.text
        assert "BEGIN PRIVATE KEY" in issued.text
        assert issued.headers["cache-control"] == "no-store"
        listed = client.get("/pki").text
        assert "BEGIN PRIVATE KEY" not in listed and sys.name in listed and "有效" in listed

        assert f'href="/pki?system_id={sys.id}"' in client.get(f"/systems/{sys.id}").text
        assert "data-serial=" in client.get(f"/pki?system_id={sys.id}").text
        assert "data-serial=" not in client.get(f"/pki?system_id={sys.id + 1000}").text
        cert = db.query(SystemCertificate).one()
        revoked = client.post(
            "/pki/revoke",
            data={"certificate_id": str(cert.id), "reason": "cessation_of_operation"},
            headers=headers,
        )
        assert (
            revoked.status_code == 200 and "已吊销" in revoked.text and "系统停用" in revoked.text
        )


def test_a_certificate_near_expiry_is_marked_until_it_is_renewed(
    client: TestClient, db: Session
) -> None:
    with clock.frozen(TODAY):
        op, _ = operator(db)
        officer = officer_of(db, "市民政局")
        authority(db, op)
        soon = issued(db, officer, system(db, officer).id, days=40)  # to 2026-11-21
        issued(db, officer, system(db, officer, name="婚姻登记系统").id)
        db.commit()
    sign_in_as(client, db, officer)
    with clock.frozen("2026-11-01T09:00:00+08:00"):
        page = client.get("/pki").text
        assert "即将到期：</strong>1 张系统证书将在 30 天内到期" in page
        assert "（还剩 20 天）" in page and 'href="/pki?expiring=1"' in page
        only = client.get("/pki?expiring=1").text
        assert only.count("data-serial=") == 1 and f'data-serial="{soon.serial}"' in only
        pki_service.renew_certificate(
            db, actor=officer, settings=SETTINGS, validity_days=365, certificate_id=soon.id
        )
        db.commit()
        renewed = client.get("/pki").text
    assert "即将到期：" not in renewed and "已续期" in renewed


def test_a_pkcs12_file_and_its_password_are_handed_over_on_the_response_only(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen(TODAY):
        op, _ = operator(db)
        officer = officer_of(db, "市民政局")
        authority(db, op, app.state.runtime.settings)
        sys = system(db, officer)
        db.commit()
        sign_in_as(client, db, officer)
        headers = csrf_for(app, client)
        assert 'name="hand_over" value="pkcs12"' in client.get("/pki").text
        issued = client.post(
            "/pki/certificates",
            data={"system_id": str(sys.id), "hand_over": "pkcs12"},
            headers=headers,
        )
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    assert "BEGIN PRIVATE KEY" not in issued.text
    href = re.search(
        r'id="p12-download" href="data:application/x-pkcs12;base64,([^"]+)"', issued.text
    )
    password = re.search(r'id="p12-password"[^>]*>([^<]+)<', issued.text)
    assert href and password
    key, cert, cas = pkcs12.load_key_and_certificates(
        base64.b64decode(href[1]), password[1].encode()
    )
    assert key is not None and cert is not None and len(cas) == 1
    listed = client.get("/pki").text
    assert password[1] not in listed and "p12-download" not in listed

"""The certificate page: the operator creates the CA, an officer issues its system a
certificate with a generated key shown once, a bad CSR is refused beside its field, and a
revocation shows in the list."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.pki.models import SystemCertificate
from tests.builders import count, operator
from tests.http import csrf_for, sign_in_as
from tests.pki.builders import system
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

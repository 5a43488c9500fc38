"""The federation page and API: the operator sets the platform's identity (its certificate
issued by the platform's CA), adds a peer by its CA certificate, sees a wrong field named,
suspends it; a department's officer does not see the page's forms."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core.errors import Conflict, Invalid
from govshare.core.settings import load_settings
from govshare.federation import service as federation
from govshare.federation.models import Peer, PeerState, PlatformIdentity, PlatformLevel
from govshare.pki import service as pki
from govshare.pki.service import _self_signed
from tests.builders import count, operator
from tests.federation.builders import DAYS
from tests.http import csrf_for, sign_in_as


def _other_ca() -> str:
    cert = _self_signed(ec.generate_private_key(ec.SECP256R1()), "江西省政务数据共享平台 CA")
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_identity_peer_and_suspension_through_the_page(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    op, _ = operator(db)
    db.commit()
    sign_in_as(client, db, op)
    headers = csrf_for(app, client)
    first = client.get("/federation")
    assert first.status_code == 200 and "请先在" in first.text  # no CA yet
    assert (
        client.post("/pki/authority", data={"name": "测试市平台 CA"}, headers=headers).status_code
        == 200
    )

    bad = client.post(
        "/federation/identity",
        data={
            "name": "测试市政务数据共享平台",
            "code": "12",
            "level": "city",
            "url": "https://127.0.0.1:8443",
        },
        headers=headers,
    )
    assert bad.status_code == 422 and count(db, PlatformIdentity) == 0
    made = client.post(
        "/federation/identity",
        data={
            "name": "测试市政务数据共享平台",
            "code": "361100",
            "level": "city",
            "url": "https://127.0.0.1:8443",
        },
        headers=headers,
    )
    assert made.status_code == 200 and "已设置级联身份" in made.text and "361100" in made.text
    own = db.query(PlatformIdentity).one()
    cert = x509.load_pem_x509_certificate(own.certificate.certificate_pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert own.certificate.system.name == "测试市政务数据共享平台"  # in the systems register

    wrong_level = client.post(
        "/federation/peers",
        data={
            "name": "某县平台",
            "code": "361102",
            "level": "city",
            "url": "https://127.0.0.1:9443",
            "anchor": _other_ca(),
        },
        headers=headers,
    )
    assert wrong_level.status_code == 422 and "只能对接上一级或下一级平台" in wrong_level.text
    not_a_ca = client.post(
        "/federation/peers",
        data={
            "name": "江西省平台",
            "code": "360000",
            "level": "province",
            "url": "https://127.0.0.1:9443",
            "anchor": own.certificate.certificate_pem,
        },
        headers=headers,
    )
    assert not_a_ca.status_code == 422 and "信任锚须为" in not_a_ca.text
    added = client.post(
        "/federation/peers",
        data={
            "name": "江西省政务数据共享平台",
            "code": "360000",
            "level": "province",
            "url": "https://127.0.0.1:9443",
            "anchor": _other_ca(),
        },
        headers=headers,
    )
    assert added.status_code == 200 and "上级平台" in added.text
    peer = db.query(Peer).one()
    listed = client.get("/api/v1/federation/peers").json()
    assert [(p["code"], p["relation"], p["state"]) for p in listed] == [
        ("360000", "upper", "active")
    ]

    refused = client.post(
        f"/federation/peers/{peer.id}/state",
        data={"state": "suspended", "reason": ""},
        headers=headers,
    )
    assert refused.status_code == 422
    suspended = client.post(
        f"/federation/peers/{peer.id}/state",
        data={"state": "suspended", "reason": "密钥轮换"},
        headers=headers,
    )
    assert suspended.status_code == 200 and "已暂停" in suspended.text
    db.refresh(peer)
    assert peer.state is PeerState.SUSPENDED
    # greeting a platform nobody listens for is refused in one clear line, and logged
    failed = client.post(f"/api/v1/federation/peers/{peer.id}/hello")
    assert failed.status_code in (403, 502)


def test_a_second_upper_platform_is_refused(db: Session) -> None:
    op, account = operator(db)
    settings = load_settings(environ={}, secret_key="x" * 32)
    pki.init_authority(db, actor=op, settings=settings, name="测试 CA")
    federation.init_identity(
        db,
        actor=op,
        settings=settings,
        validity_days=DAYS,
        organization_id=account.organization_id or 0,
        code="361100",
        name="测试市政务数据共享平台",
        level=PlatformLevel.CITY,
        url="https://127.0.0.1:8443",
    )
    province = {"level": PlatformLevel.PROVINCE, "anchor_pem": _other_ca()}
    federation.add_peer(
        db, actor=op, code="360000", name="江西省平台", url="https://127.0.0.1:9443", **province
    )
    with pytest.raises(Conflict, match="只有一个上级"):
        federation.add_peer(
            db, actor=op, code="350000", name="福建省平台", url="https://127.0.0.1:9444", **province
        )
    with pytest.raises(Invalid, match="自身"):
        federation.add_peer(
            db, actor=op, code="361100", name="本市平台", url="https://127.0.0.1:9445", **province
        )

"""Certificates API (证书管理, SEC-1, BZ§26): the CA, system certificates, renewal,
revocation; the CRL and the CA certificate are public at /pki/crl.pem, /pki/crl.der and
/pki/ca.pem."""

from __future__ import annotations

import base64
from typing import Annotated

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Query, Request, Response

from govshare.core.errors import NotFound
from govshare.core.inputs import Id
from govshare.pki import schemas
from govshare.pki import service as pki_service
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/pki", tags=["证书管理"])
public = APIRouter(prefix="/pki", tags=["证书管理"])


def _validity_days(request: Request) -> int:
    return runtime_of(request).profile.rules.certificate_validity_days.value


@router.get("/authority", summary="证书签发机构")
def get_authority(db_session: DB, actor: SignedIn) -> schemas.AuthorityOut:
    authority = pki_service.get_authority(db_session, actor=actor)
    if authority is None:
        raise NotFound("平台尚未建立证书签发机构", field="authority")
    return schemas.AuthorityOut.model_validate(authority)


@router.post("/authority", status_code=201, summary="建立证书签发机构")
def init_authority(
    request: Request, db_session: DB, actor: SignedIn, data: schemas.AuthorityIn
) -> schemas.AuthorityOut:
    authority = pki_service.init_authority(
        db_session, actor=actor, settings=runtime_of(request).settings, name=data.name
    )
    return schemas.AuthorityOut.model_validate(authority)


@router.get(
    "/certificates",
    summary="系统证书",
    description="按到期时间排列；expiring_within_days 只列该天数内到期的有效证书。",
)
def list_certificates(
    db_session: DB,
    actor: SignedIn,
    system_id: Id | None = None,
    expiring_within_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> list[schemas.CertificateOut]:
    rows = pki_service.list_certificates(
        db_session, actor=actor, system_id=system_id, expiring_within_days=expiring_within_days
    )
    return [schemas.CertificateOut.model_validate(c) for c in rows]


@router.post(
    "/certificates",
    status_code=201,
    summary="签发系统证书",
    description="带 csr（PEM）时按证书签名请求签发；不带时由平台生成密钥，"
    "私钥和证书只在本次返回，平台不保存：hand_over 为 pem 时是 PEM 文本（bundle），"
    "为 pkcs12 时是 .p12 文件（pkcs12，base64）及其一次性口令（pkcs12_password）。",
)
def issue_certificate(
    request: Request, db_session: DB, actor: SignedIn, data: schemas.CertificateIn
) -> schemas.IssuedOut:
    settings, days = runtime_of(request).settings, _validity_days(request)
    if data.csr:
        cert = pki_service.issue_from_csr(
            db_session,
            actor=actor,
            settings=settings,
            validity_days=days,
            system_id=data.system_id,
            csr_pem=data.csr,
        )
        return schemas.IssuedOut.model_validate(cert)
    issued = pki_service.issue_generated(
        db_session,
        actor=actor,
        settings=settings,
        validity_days=days,
        system_id=data.system_id,
        hand_over=data.hand_over,
    )
    out = schemas.IssuedOut.model_validate(issued.certificate)
    p12 = base64.b64encode(issued.pkcs12).decode() if issued.pkcs12 else None
    return out.model_copy(
        update={
            "bundle": issued.bundle,
            "pkcs12": p12,
            "pkcs12_password": issued.pkcs12_password,
        }
    )


@router.get("/certificates/{certificate_id}", summary="查看系统证书")
def get_certificate(db_session: DB, actor: SignedIn, certificate_id: Id) -> schemas.CertificateOut:
    cert = pki_service.get_certificate(db_session, actor=actor, certificate_id=certificate_id)
    return schemas.CertificateOut.model_validate(cert)


@router.post("/certificates/{certificate_id}/renew", status_code=201, summary="续期系统证书")
def renew_certificate(
    request: Request, db_session: DB, actor: SignedIn, certificate_id: Id
) -> schemas.CertificateOut:
    cert = pki_service.renew_certificate(
        db_session,
        actor=actor,
        settings=runtime_of(request).settings,
        validity_days=_validity_days(request),
        certificate_id=certificate_id,
    )
    return schemas.CertificateOut.model_validate(cert)


@router.post("/certificates/{certificate_id}/revoke", summary="吊销系统证书")
def revoke_certificate(
    request: Request, db_session: DB, actor: SignedIn, certificate_id: Id, data: schemas.RevokeIn
) -> schemas.CertificateOut:
    cert = pki_service.revoke_certificate(
        db_session,
        actor=actor,
        settings=runtime_of(request).settings,
        certificate_id=certificate_id,
        reason=data.reason,
        note=data.note,
    )
    return schemas.CertificateOut.model_validate(cert)


# --- public: what relying parties fetch without signing in -------------------------------


def _crl(db_session: DB) -> bytes:
    der = pki_service.current_crl(db_session)
    if der is None:
        raise NotFound("平台尚未建立证书签发机构", field="authority")
    return der


@public.get("/crl.der", summary="证书吊销列表（DER）", response_class=Response)
def crl_der(db_session: DB) -> Response:
    return Response(_crl(db_session), media_type="application/pkix-crl")


@public.get("/crl.pem", summary="证书吊销列表（PEM）", response_class=Response)
def crl_pem(db_session: DB) -> Response:
    crl = x509.load_der_x509_crl(_crl(db_session))
    pem = crl.public_bytes(serialization.Encoding.PEM)
    return Response(pem, media_type="application/x-pem-file")


@public.get("/ca.pem", summary="证书签发机构的证书（PEM）", response_class=Response)
def ca_pem(db_session: DB) -> Response:
    pem = pki_service.ca_certificate(db_session)
    if pem is None:
        raise NotFound("平台尚未建立证书签发机构", field="authority")
    return Response(pem, media_type="application/x-pem-file")

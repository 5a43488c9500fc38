"""Certificate pages (证书管理): the CA, the certificates with their expiry, and the forms
that create the CA, issue, renew and revoke."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core import clock
from govshare.core.errors import Invalid
from govshare.core.inputs import Id, parse_id
from govshare.core.permissions import Actor, Role
from govshare.pki import schemas
from govshare.pki import service as pki_service
from govshare.pki.models import HandOver, RevocationReason
from govshare.systems import service as systems_service
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, attempt, filled, validated
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)


def _context(request: Request, db_session: DB, actor: Actor, **extra: Any) -> dict[str, Any]:
    authority = pki_service.get_authority(db_session, actor=actor)
    system_id = parse_id(request.query_params.get("system_id"))
    rules = runtime_of(request).profile.rules
    # The page marks what supervision warns of: expiry within the profile's days.
    expiring_days = rules.certificate_expiry_warning_days.value
    expiring_list = pki_service.list_certificates(
        db_session, actor=actor, system_id=system_id, expiring_within_days=expiring_days
    )
    every = pki_service.list_certificates(db_session, actor=actor, system_id=system_id)
    # A certificate already renewed by one not revoked is taken over, not about to lapse.
    renewed = {c.renewed_from_id for c in every if c.renewed_from_id and not c.revoked_at}
    expiring = {c.id for c in expiring_list if c.id not in renewed}
    expiring_only = request.query_params.get("expiring") == "1"
    certificates = [c for c in every if c.id in expiring] if expiring_only else every
    manages = actor.has(Role.PLATFORM_OPERATOR, Role.DATA_OFFICER)
    systems = systems_service.list_systems(db_session, actor=actor) if manages and authority else []
    return {
        "authority": authority,
        "certificates": certificates,
        "system_id": system_id,
        "expiring": expiring,
        "renewed": renewed,
        "expiring_only": expiring_only,
        "expiring_days": expiring_days,
        "days_left": lambda c: (clock.to_city(c.not_after).date() - clock.today()).days,
        "status_of": pki_service.status_of,
        "systems": systems,
        "manages": manages,
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "reasons": list(RevocationReason),
        "hand_overs": list(HandOver),
        "required": rules.certificate_required,
        "validity_days": rules.certificate_validity_days.value,
        "now": clock.now(),
        "form": {},
        "errors": {},
        "failed": "",
        "bundle": None,
        "p12_href": None,
        **extra,
    }


@router.get("/pki", response_class=HTMLResponse)
def pki_page(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "pki/index.html", _context(request, db_session, actor))


def _write(
    request: Request, db_session: DB, actor: Actor, form: dict[str, Any], name: str, step: Any
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        context = _context(request, db_session, actor, form=form, errors=errors, failed=name)
        return render(request, "pki/index.html", context, status)

    return attempt(db_session, step, done="/pki", again=again)


@router.post("/pki/authority", response_class=HTMLResponse)
def pki_init(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    def step() -> str:
        data = validated(schemas.AuthorityIn, filled(form))
        pki_service.init_authority(
            db_session, actor=actor, settings=runtime_of(request).settings, name=data.name
        )
        return "已建立证书签发机构"

    return _write(request, db_session, actor, form, "init", step)


@router.post("/pki/certificates", response_class=HTMLResponse)
def pki_issue(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    runtime = runtime_of(request)
    days = runtime.profile.rules.certificate_validity_days.value
    issued: list[pki_service.Issued] = []

    def step() -> str:
        data = validated(schemas.CertificateIn, filled(form))
        if data.csr:
            cert = pki_service.issue_from_csr(
                db_session,
                actor=actor,
                settings=runtime.settings,
                validity_days=days,
                system_id=data.system_id,
                csr_pem=data.csr,
            )
            return f"已按证书签名请求签发证书，序列号 {cert.serial}"
        issued.append(
            pki_service.issue_generated(
                db_session,
                actor=actor,
                settings=runtime.settings,
                validity_days=days,
                system_id=data.system_id,
                hand_over=data.hand_over,
            )
        )
        return ""

    response = _write(request, db_session, actor, form, "issue", step)
    if not issued:
        return response
    # The key is shown on this response only: rendered here, never stored nor redirected to;
    # a .p12 file is embedded in this page as a data: link, so it too exists only here.
    db_session.flush()
    p12 = issued[0].pkcs12
    context = _context(
        request,
        db_session,
        actor,
        bundle=issued[0],
        p12_href=f"data:application/x-pkcs12;base64,{base64.b64encode(p12).decode()}"
        if p12
        else None,
    )
    page = render(request, "pki/index.html", context)
    page.headers["cache-control"] = "no-store"
    return page


@router.post("/pki/certificates/{certificate_id}/renew", response_class=HTMLResponse)
def pki_renew(
    request: Request, db_session: DB, actor: PageActor, certificate_id: Id, form: PostedForm
) -> Response:
    runtime = runtime_of(request)

    def step() -> str:
        cert = pki_service.renew_certificate(
            db_session,
            actor=actor,
            settings=runtime.settings,
            validity_days=runtime.profile.rules.certificate_validity_days.value,
            certificate_id=certificate_id,
        )
        return (
            f"已续期，新证书序列号 {cert.serial}，有效期至 {clock.to_city(cert.not_after):%Y-%m-%d}"
        )

    return _write(request, db_session, actor, form, "renew", step)


@router.post("/pki/revoke", response_class=HTMLResponse)
def pki_revoke(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    def step() -> str:
        data = validated(schemas.RevokeIn, filled(form))
        certificate_id = parse_id(form.get("certificate_id"))
        if certificate_id is None:
            raise Invalid("请选择要吊销的证书", field="certificate_id")
        cert = pki_service.revoke_certificate(
            db_session,
            actor=actor,
            settings=runtime_of(request).settings,
            certificate_id=certificate_id,
            reason=data.reason,
            note=data.note,
        )
        return f"已吊销证书 {cert.serial}，证书吊销列表已更新"

    return _write(request, db_session, actor, form, "revoke", step)

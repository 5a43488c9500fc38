"""The gateway under Binzhou (BZ§26): a consumer's system calls with its certificate and is
forwarded; with its token alone it is refused with the reason, and the refusal is logged."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.exchange.models import GatewayCall
from govshare.identity.models import ApiToken
from govshare.pki import forwarding
from govshare.pki import service as pki_service
from tests.exchange.gateway_scenarios import ServiceWorld
from tests.exchange.test_gateway import USCC, sw, upstream  # noqa: F401 (fixtures)
from tests.pki.builders import csr_pem
from tests.pki.test_api import HEADER, PROXY, _app


def test_the_gateway_takes_a_certificate_and_refuses_a_token_alone(
    db: Session,
    tmp_path: Path,
    sw: ServiceWorld,  # noqa: F811 (the fixture imported above)
) -> None:
    app = _app(db, tmp_path, "binzhou")
    settings = app.state.runtime.settings
    pki_service.init_authority(db, actor=sw.op, settings=settings, name="滨州市共享平台 CA")
    token_row = db.execute(select(ApiToken).where(ApiToken.organization_id == sw.consumer.id))
    system_id = token_row.scalars().first().system_id
    assert system_id is not None
    pem = pki_service.issue_from_csr(
        db,
        actor=sw.op,
        settings=settings,
        validity_days=365,
        system_id=system_id,
        csr_pem=csr_pem(),
    ).certificate_pem
    db.commit()
    url = f"/gateway/{sw.code}/enterprises/{USCC}"
    bearer = {"Authorization": f"Bearer {sw.token}"}
    with TestClient(app, client=(PROXY, 40000)) as client:
        alone = client.get(url, headers=bearer)
        assert (
            alone.status_code == 401 and alone.json()["detail"] == forwarding.CERTIFICATE_REQUIRED
        )
        certified = client.get(url, headers={HEADER: urllib.parse.quote(pem, safe="")})
        assert certified.status_code == 200, certified.text
    db.expire_all()
    calls = db.execute(select(GatewayCall).order_by(GatewayCall.id)).scalars().all()
    assert [(c.status, c.consumer_id) for c in calls] == [(401, None), (200, sw.consumer.id)]

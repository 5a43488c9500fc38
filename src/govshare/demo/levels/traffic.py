"""What the platforms beside the demo city do once they run: traffic along the levels,
through the services, as each platform's people would do it, and skipped when done."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceVersion
from govshare.core import clock
from govshare.core.errors import DomainError
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.demo import exchange as exchange_demo
from govshare.demo.levels.places import Node
from govshare.demo.sharing import letter
from govshare.demo.sources import officer
from govshare.federation import catalogs, relay, requests
from govshare.federation.request_models import MirroredGrant, UpperRequest
from govshare.federation.request_schemas import RelayQueryIn, ReviewIn, UpperRequestIn
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.sharing.models import Application, ApplicationState
from govshare.sharing.schemas import DecisionIn, PreReviewIn, Upload
from govshare.sharing.service import decisions
from govshare.systems.models import InformationSystem, SystemState

log = logging.getLogger(__name__)
CONSOLE = Actor.command_line("demo")

RESOURCE = "市场主体登记信息"  # the province's table the city's departments ask for
# (department, items, purpose): 市税务局's request is approved at the province, 市民政局's
# waits there for the provider's answer, under the province's deadline.
ASKS = (
    (
        "swj",
        ["统一社会信用代码", "企业名称", "法定代表人", "注册资本", "成立日期", "住所", "登记状态"],
        "核验纳税人登记信息与市场主体登记信息是否一致，发现未按期办理税务登记的企业",
    ),
    (
        "mzj",
        ["统一社会信用代码", "企业名称", "企业类型", "登记状态", "住所"],
        "核对社会组织和养老服务机构举办者的市场主体登记状态",
    ),
)


def after_start(city: Runtime, nodes: dict[str, Node]) -> None:
    """Once the three platforms run and the city has greeted both: the catalogs are
    mirrored along the levels (the county's up to the city and on to the province, the
    province's down to the city; the workers keep them in step every minute); two city
    departments' requests for the province's 市场主体登记信息 go up as one bundle, the
    province decides one, the city pulls the decision, and 市税务局 looks a company up
    through the city (a relayed call, logged on both platforms under one message id).
    The request is made once; a later start only syncs."""
    province = nodes["province"].runtime()
    try:
        catalogs.sync_all(city, actor=CONSOLE)
        catalogs.sync_all(province, actor=CONSOLE)
        _bundled_request(city, province)
    except DomainError as exc:
        log.warning("demo levels: %s", exc.message)
    finally:
        province.engine.dispose()


def _operator(db_session: Session) -> Actor:
    user = db_session.execute(select(User).where(User.username == "operator")).scalar_one()
    return actor_for_user(user)


def _system_of(db_session: Session, organization_id: int | None) -> int:
    return db_session.execute(
        select(InformationSystem.id)
        .where(
            InformationSystem.organization_id == organization_id,
            InformationSystem.state == SystemState.IN_USE,
        )
        .order_by(InformationSystem.id)
        .limit(1)
    ).scalar_one()


def _resource_code(province: Runtime) -> str:
    """The code the province's catalog gives its 市场主体登记信息."""
    with province.transaction() as db_session:
        return db_session.execute(
            select(Resource.code)
            .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
            .where(ResourceVersion.name == RESOURCE)
        ).scalar_one()


def _bundled_request(city: Runtime, province: Runtime) -> None:
    with city.transaction() as db_session:
        if db_session.execute(select(UpperRequest.id).limit(1)).first() is not None:
            return
        askers = [(officer(db_session, key), items, purpose) for key, items, purpose in ASKS]
        systems = [_system_of(db_session, a.organization_id) for a, _, _ in askers]
        operator = _operator(db_session)
    code = _resource_code(province)
    today = clock.today()
    ids = []
    for (asker, items, purpose), system_id in zip(askers, systems, strict=True):
        ids.append(
            requests.file_request(
                city,
                actor=asker,
                data=UpperRequestIn(
                    resource_code=code,
                    fields=items,
                    purpose=purpose,
                    basis="《江西省公共数据管理办法》；本单位法定职责",
                    system_id=system_id,
                    valid_from=today,
                    valid_until=today + timedelta(days=364),
                    accept_restrictions=True,
                ),
                uploads=[_letter(asker.label, code)],
            )
        )
    with city.transaction() as db_session:
        for request_id in ids:
            requests.review(
                db_session, actor=operator, request_id=request_id, data=ReviewIn(approve=True)
            )
        peer_id = requests.upper_peer(db_session).id
    bundle_id = requests.forward(city, actor=operator, peer_id=peer_id, resource_code=code)
    with province.transaction() as db_session:  # the province's operator and provider
        provider, upper_operator = officer(db_session, "scjg"), _operator(db_session)
        applications = (
            db_session.execute(select(Application).order_by(Application.id)).scalars().all()
        )
        for application in applications:
            if application.state is ApplicationState.PRE_REVIEW:
                decisions.pre_review(
                    db_session, actor=upper_operator, application_id=application.id,
                    data=PreReviewIn(forward=True),
                )  # fmt: skip
        decisions.decide(
            db_session,
            actor=provider,
            profile=province.profile,
            application_id=applications[0].id,
            data=DecisionIn(approve=True, conditions="仅用于税收征管中的登记信息核验"),
        )
    requests.pull(city, actor=operator, bundle_id=bundle_id)
    with city.transaction() as db_session:
        grant = db_session.execute(
            select(MirroredGrant).where(
                MirroredGrant.organization_id == askers[0][0].organization_id
            )
        ).scalar_one()
        grant_id = grant.id
    relay.query(
        city,
        actor=askers[0][0],
        grant_id=grant_id,
        data=RelayQueryIn(filters={"统一社会信用代码": exchange_demo.example_company()}),
    )


def _letter(who: str, code: str) -> Upload:
    lines = [
        "Jiangzhou demo city - application letter for provincial shared data",
        f"Applicant: {who}",
        f"Resource: {code}",
        f"Date: {clock.today().isoformat()}",
        "Sealed by the applicant (demo document, no real seal).",
    ]
    return Upload(
        kind="sealed_letter",
        filename=f"关于申请共享省级“{RESOURCE}”的函.pdf",
        content_type="application/pdf",
        content=letter(lines),
    )

"""Building the province and the county, the city's federation identity and the peerings,
through the services as each platform's operator would at its console. All three databases
are the demo's own, so the build writes each directly; every part already there is skipped."""

from __future__ import annotations

import contextlib
import itertools
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus, ResourceVersion
from govshare.catalog.schemas import ResourceIn, ReviewIn
from govshare.catalog.service import resources
from govshare.core import clock, embedded, migrate
from govshare.core.errors import ConfigError
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.demo import catalog as catalog_demo
from govshare.demo import exchange as exchange_demo
from govshare.demo import identity as identity_demo
from govshare.demo import sources
from govshare.demo.levels.places import SPEC, Node, Plan
from govshare.federation import service as federation
from govshare.federation.models import PlatformLevel
from govshare.identity import service as identity_service
from govshare.identity.models import Level, Organization, OrganizationKind, User
from govshare.identity.schemas import ConfidentialityAgreementIn, OrganizationIn, UserIn
from govshare.pki import service as pki
from govshare.supervision.detectors import platform_unit

CONSOLE = Actor.command_line("demo")


def _person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(identity_demo.SURNAMES) + rng.choice(identity_demo.GIVEN)
    mobile = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
    return name, mobile


def _organizations(db_session: Session, node: Node) -> None:
    """The platform's organisations, its operator and each department's data officer, as
    the operator registers them (a few accounts: each password hash takes half a second)."""
    spec = node.spec
    rng = random.Random(node.code)
    level = Level(node.level.value)
    orgs: dict[str, Organization] = {}
    for org in spec["organizations"]:
        kind = OrganizationKind(org["kind"])
        authority = "9" if kind is OrganizationKind.PUBLIC_ENTERPRISE else "1"
        orgs[org["key"]] = identity_service.create_organization(
            db_session,
            actor=CONSOLE,
            data=OrganizationIn(
                name=org["name"],
                short_name=org["short"],
                uscc=identity_demo.credit_code(authority, "1", node.code, rng),
                level=level,
                kind=kind,
                parent_id=orgs[org["parent"]].id if org.get("parent") else None,
            ),
        )

    def person(username: str, org: str, roles: list[Role]) -> int:
        real_name, mobile = _person(rng)
        return identity_service.create_user(
            db_session,
            actor=CONSOLE,
            data=UserIn(
                username=username,
                real_name=real_name,
                mobile=mobile,
                organization_id=orgs[org].id,
                roles=roles,
                password=identity_demo.DEMO_PASSWORD,
            ),
        ).id

    person("operator", spec["unit"], [Role.PLATFORM_OPERATOR])
    today = clock.today()
    for key in spec["departments"]:
        officer = person(f"{key}_officer", key, [Role.DEPARTMENT_STAFF])
        identity_service.appoint_data_officer(
            db_session,
            actor=CONSOLE,
            organization_id=orgs[key].id,
            user_id=officer,
            started_on=today,
        )
        identity_service.record_confidentiality_agreement(
            db_session,
            actor=CONSOLE,
            user_id=officer,
            data=ConfidentialityAgreementIn(
                signed_on=today,
                expires_on=date(today.year + 2, 12, 31),
                document_ref=f"{spec['area']}数保〔{today.year}〕{officer:03d}号",
            ),
        )


def _identity(
    db_session: Session, runtime: Runtime, *, code: str, name: str, level: PlatformLevel, url: str
) -> bool:
    """The platform's certificate authority and federation identity, unless there; whether
    anything was added."""
    added = False
    if pki.ca_certificate(db_session) is None:
        pki.init_authority(db_session, actor=CONSOLE, settings=runtime.settings, name=f"{name} CA")
        added = True
    if federation.identity(db_session) is None:
        unit = platform_unit(db_session)
        if unit is None:
            raise ConfigError(f"{name}没有平台运营账户，无法设置级联身份")
        federation.init_identity(
            db_session,
            actor=CONSOLE,
            settings=runtime.settings,
            validity_days=runtime.profile.rules.certificate_validity_days.value,
            organization_id=unit,
            code=code,
            name=name,
            level=level,
            url=url,
        )
        added = True
    return added


def resource_named(db_session: Session, name: str) -> Resource | None:
    """The platform's resource whose first version has this name."""
    return db_session.execute(
        select(Resource)
        .join(ResourceVersion, ResourceVersion.resource_id == Resource.id)
        .where(ResourceVersion.number == 1, ResourceVersion.name == name)
    ).scalar_one_or_none()


def _publish(db_session: Session, runtime: Runtime, node: Node) -> bool:
    """The platform's catalog resources, compiled and submitted by their departments' data
    officers and approved by its operator; whether any was added."""
    rules = runtime.profile.rules
    reviewer = identity_service.actor_for_user(
        db_session.execute(select(User).where(User.username == "operator")).scalar_one()
    )
    added = False
    for spec in node.spec["resources"]:
        if resource_named(db_session, spec["name"]) is not None:
            continue
        fields = {k: v for k, v in spec.items() if k not in ("key", "dept", "items")}
        data = ResourceIn.model_validate(
            fields | {"items": catalog_demo.parse_items(spec["items"])}
        )
        compiler = sources.officer(db_session, spec["dept"])
        resource = resources.create_resource(db_session, actor=compiler, data=data, rules=rules)
        version_id = _first_version(db_session, resource)
        resources.submit_version(db_session, actor=compiler, version_id=version_id, rules=rules)
        resources.review_version(
            db_session,
            actor=reviewer,
            version_id=version_id,
            decision=ReviewIn(approve=True, comment="审核通过"),
            rules=rules,
        )
        added = True
    return added


def _first_version(db_session: Session, resource: Resource) -> int:
    return db_session.execute(
        select(ResourceVersion.id).where(
            ResourceVersion.resource_id == resource.id, ResourceVersion.number == 1
        )
    ).scalar_one()


def _table(node: Node) -> tuple[sources.Database, str] | None:
    """The department's business database bound to a resource, and the resource's name."""
    table = node.spec.get("table")
    if table is None:
        return None
    enterprise = exchange_demo.ENTERPRISE
    rows = int(table["rows"])
    resource = next(r for r in node.spec["resources"] if r["key"] == table["resource"])
    database = sources.Database(
        table["department"],
        table["connection"],
        table["path"],
        (
            sources.Table(
                name=Path(table["path"]).stem,
                columns=enterprise.columns,
                key=enterprise.key,
                rows=lambda: itertools.islice(enterprise.rows(), rows),
                resource=table["resource"],
                items=enterprise.items,
            ),
        ),
    )
    return database, resource["name"]


def _exchange(runtime: Runtime, node: Node) -> bool:
    """The bound table synchronised into the platform's data resource center (once)."""
    found = _table(node)
    if found is None:
        return False
    database, resource_name = found
    with runtime.transaction() as db_session:
        connection_id, connected = sources.connect(runtime, db_session, database)
        resource = resource_named(db_session, resource_name)
        assert resource is not None and resource.status is ResourceStatus.PUBLISHED
        binding_id, bound = sources.bind(
            runtime, db_session, database, connection_id, database.tables[0], resource
        )
    synced = sources.first_sync(runtime, binding_id, database.department)
    return connected or bound or synced


def _copy_database(source: Path, target: Path) -> None:
    """A freshly migrated SQLite database copied whole (SQLite's backup), so that a second
    platform skips the migrations' time; it holds the schema and nothing of either."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def _migrate(nodes: list[Node]) -> None:
    """Every platform's database at the newest schema; the first new one is migrated, the
    other new ones start as its copy."""
    template: Path | None = None
    for node in nodes:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        path = node.data_dir / "govshare.db"
        if template is not None and not embedded.has_schema(path):
            path.unlink(missing_ok=True)
            _copy_database(template, path)
        runtime = node.runtime()
        try:
            if not embedded.has_schema(path):
                migrate.upgrade(runtime.engine)
                template = path
            elif not migrate.is_current(runtime.engine):
                migrate.upgrade(runtime.engine)
        finally:
            runtime.engine.dispose()


def _build_node(node: Node) -> bool:
    runtime = node.runtime()
    try:
        added = False
        with runtime.transaction() as db_session:
            if db_session.execute(select(Organization.id).limit(1)).first() is None:
                _organizations(db_session, node)
                added = True
            added |= _identity(
                db_session,
                runtime,
                code=node.code,
                name=node.name,
                level=node.level,
                url=node.federation_url,
            )
            added |= _publish(db_session, runtime, node)
        added |= _exchange(runtime, node)
        return added
    finally:
        _close(runtime)


def _close(runtime: Runtime) -> None:
    if "center" in runtime.__dict__:
        runtime.center.engine.dispose()
    runtime.engine.dispose()


def _fingerprint(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class _Side:
    runtime: Runtime
    code: str
    name: str
    level: PlatformLevel
    url: str

    def anchor(self) -> str:
        with self.runtime.transaction() as db_session:
            pem = pki.ca_certificate(db_session)
        assert pem is not None
        return pem


def _peer(upper: _Side, lower: _Side) -> bool:
    """Both operators trust the other's CA (govshare federation peer-add), unless done."""
    added = False
    for here, there in ((upper, lower), (lower, upper)):
        anchor = there.anchor()
        with here.runtime.transaction() as db_session:
            peer = federation.peer_by_code(db_session, there.code)
            if peer is not None and peer.anchor_fingerprint != _fingerprint(anchor):
                raise ConfigError(
                    f"{here.name}已对接代码为 {there.code} 的平台，但信任的 CA 证书不是"
                    f"{there.name}现在的（其数据目录被重新创建过）；请删除示范数据目录后"
                    "重新创建，或用 --no-levels 只启动市级平台"
                )
            if peer is None:
                federation.add_peer(
                    db_session,
                    actor=CONSOLE,
                    code=there.code,
                    name=there.name,
                    level=there.level,
                    url=there.url,
                    anchor_pem=anchor,
                )
                added = True
    return added


def build(city: Runtime, levels: Plan, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """The province and the county in their data directories, the city's federation
    identity, and the two peerings (city–province, city–county); the parts that are
    missing. Returns whether anything was added."""
    nodes = list(levels.nodes.values())
    progress("三级平台：数据库")
    _migrate(nodes)
    added = False
    for node in nodes:
        progress(f"三级平台：{node.name}")
        added |= _build_node(node)
    progress("三级平台：级联对接")
    city_spec = SPEC["city"]
    with city.transaction() as db_session:
        added |= _identity(
            db_session,
            city,
            code=city_spec["code"],
            name=city_spec["name"],
            level=PlatformLevel.CITY,
            url=levels.city_federation_url,
        )
        own = federation.required_identity(db_session)
        city_side = _Side(city, own.code, own.name, own.level, own.url)
    for node in nodes:
        runtime = node.runtime()
        try:
            side = _Side(runtime, node.code, node.name, node.level, node.federation_url)
            pair = (side, city_side) if node.level is PlatformLevel.PROVINCE else (city_side, side)
            added |= _peer(*pair)
        finally:
            runtime.engine.dispose()
    return added

"""File resources (文件资源, EXC-3): numbered versions of a provider's files, each with its
size and SHA-256, uploaded by the provider and downloaded by departments under a grant.

Bytes never pass whole through memory or the database. An upload streams into the file
store under a fresh key before its row is written, and the key is discarded unless the
transaction commits, so a failed upload leaves neither a file nor a row. A download is
decided by `sharing.service.access.check_access` (which logs the decision either way) and
streams from the store, checked against the recorded size and SHA-256 on the way out.
"""

from __future__ import annotations

import itertools
import logging
import mimetypes
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Text, cast, event, func, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from govshare.catalog.models import (
    Resource,
    ResourceFormat,
    ResourceStatus,
    ResourceVersion,
    ShareMethod,
)
from govshare.catalog.service.common import COMPILERS
from govshare.catalog.service.resources import get_resource_by_code
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.filenames import check_filename
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.exchange import filestore
from govshare.exchange.filestore import FileStore, Reader
from govshare.exchange.models import FileVersion, UseKind
from govshare.exchange.service.usage import record_use
from govshare.sharing.models import Grant
from govshare.sharing.service import access, grants
from govshare.sharing.service.common import CONSUMERS, READERS, oversees

log = logging.getLogger("govshare.exchange.files")

FILE_FORMATS = frozenset(
    {ResourceFormat.ELECTRONIC_FILE, ResourceFormat.SPREADSHEET, ResourceFormat.IMAGE}
)
UPLOADERS = (Role.DATA_OFFICER, Role.DEPARTMENT_STAFF)  # the provider's people who keep files
DOWNLOADERS = CONSUMERS  # a department's people and systems
MAX_FILENAME = 255
MAX_NOTE = 500
DEFAULT_TYPE = "application/octet-stream"
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;[ -~]*)?$")
NO_GRANT = "本单位没有该资源的共享授权，请在资源目录中申请"
_PENDING = "govshare.exchange.files.pending"


class Refused(Forbidden):
    """A download without a usable grant. The access check's audit entry must survive, so
    routes return this refusal as their answer instead of letting it roll back."""


@dataclass
class FileResource:
    """A file resource as the actor's department sees it: its versions (newest first) and
    what the department may do with them."""

    resource: Resource
    is_provider: bool
    grant: Grant | None  # the department's grant, the usable one if any, for a consumer
    versions: list[FileVersion] = field(default_factory=list)
    can_upload: bool = False
    can_download: bool = False
    reason: str = ""  # why the department may not download, when it may not

    @property
    def name(self) -> str:
        version = self.resource.current_version
        return version.name if version else self.resource.code

    @property
    def latest(self) -> FileVersion | None:
        return self.versions[0] if self.versions else None


@dataclass
class Download:
    """An opened version: its row (for the headers) and its bytes, read once."""

    version: FileVersion
    reader: Reader

    def chunks(self) -> Iterator[bytes]:
        """The bytes, ending the stream early if they no longer match the recorded hash."""
        return filestore.verified(self.reader, size=self.version.size, sha256=self.version.sha256)


def is_file_resource(version: ResourceVersion | None) -> bool:
    """Whether a resource version is shared as files: a file format or the "file" method."""
    if version is None:
        return False
    return version.format in FILE_FORMATS or ShareMethod.FILE.value in version.share_methods


def link(resource: Resource) -> str:
    """The file resource's page."""
    return f"/exchange/files/{resource.code}"


# --- reading ------------------------------------------------------------------------------


def _file_resource(db_session: Session, actor: Actor, resource_code: str) -> Resource:
    resource = get_resource_by_code(db_session, actor=actor, code=resource_code)
    version = resource.current_version
    if version is None:
        raise Conflict("资源尚未发布，还不能交换文件", field="resource_code")
    if not is_file_resource(version):
        raise Conflict(
            f"“{version.name}”不是文件资源：格式为{version.format.label}，共享方式不含“文件”",
            field="resource_code",
        )
    return resource


def _is_provider(actor: Actor, resource: Resource) -> bool:
    return actor.organization_id == resource.provider_id and actor.has(*COMPILERS, Role.SYSTEM)


def _grants_of(
    db_session: Session, organization_id: int | None, resource_id: int | None = None
) -> dict[int, Grant]:
    """Per resource, the department's usable grant, else its latest one (as `check_access`
    chooses); for one resource or all it holds grants for."""
    if organization_id is None:
        return {}
    stmt = select(Grant).where(Grant.consumer_id == organization_id)
    if resource_id is not None:
        stmt = stmt.where(Grant.resource_id == resource_id)
    today = clock.today()
    chosen: dict[int, Grant] = {}
    for grant in db_session.execute(stmt.order_by(Grant.id.desc())).scalars():
        current = chosen.get(grant.resource_id)
        if current is None or (grant.usable(today) and not current.usable(today)):
            chosen[grant.resource_id] = grant
    return chosen


def _versions(db_session: Session, resource_ids: Iterable[int]) -> dict[int, list[FileVersion]]:
    ids = list(resource_ids)
    found: dict[int, list[FileVersion]] = {i: [] for i in ids}
    if ids:
        rows = db_session.execute(
            select(FileVersion)
            .where(FileVersion.resource_id.in_(ids))
            .order_by(FileVersion.resource_id, FileVersion.number.desc())
        ).scalars()
        for row in rows:
            found[row.resource_id].append(row)
    return found


def _view(
    actor: Actor, resource: Resource, grant: Grant | None, versions: list[FileVersion]
) -> FileResource:
    provider = _is_provider(actor, resource)
    view = FileResource(resource, provider, None if provider else grant)
    if provider:
        view.can_download = True
        view.can_upload = actor.has(*UPLOADERS) and resource.status is ResourceStatus.PUBLISHED
    elif grant is not None:
        view.can_download = grant.usable(clock.today()) and actor.has(*DOWNLOADERS)
        if not view.can_download:
            status = grants.status_label(grant, clock.today())
            detail = f"：{grant.state_reason}" if grant.state_reason else ""
            view.reason = f"授权 {grant.number} {status}{detail}"
    elif oversees(actor):
        view.reason = "平台管理单位、主管部门和审计员可以查看文件版本，不能下载文件内容"
    else:
        view.reason = NO_GRANT
    if provider or grant is not None or oversees(actor):
        view.versions = versions
    return view


def get_file_resource(db_session: Session, *, actor: Actor, resource_code: str) -> FileResource:
    """A file resource for its page: versions for the provider, grantees and overseers;
    for other departments only the resource and why they may not have its files."""
    require(actor, *READERS, Role.SYSTEM, action="查看文件资源")
    resource = _file_resource(db_session, actor, resource_code)
    grant = _grants_of(db_session, actor.organization_id, resource.id).get(resource.id)
    return _view(actor, resource, grant, _versions(db_session, [resource.id])[resource.id])


def list_versions(db_session: Session, *, actor: Actor, resource_code: str) -> list[FileVersion]:
    """The versions of a file resource, newest first, for its provider, departments holding
    a grant for it, and those who oversee sharing."""
    view = get_file_resource(db_session, actor=actor, resource_code=resource_code)
    if not (view.is_provider or view.grant is not None or oversees(actor)):
        raise Forbidden(NO_GRANT, field="grant")
    return view.versions


def _shared_as_files() -> list[ColumnElement[bool]]:
    """SQL conditions narrowing resources to file resources (`is_file_resource` decides)."""
    return [
        ResourceVersion.format.in_(FILE_FORMATS),
        cast(ResourceVersion.share_methods, Text).like(f'%"{ShareMethod.FILE.value}"%'),
    ]


def file_resources(db_session: Session, *, actor: Actor) -> list[FileResource]:
    """The file resources the actor's department provides or holds a grant for (every
    published one for those who oversee sharing), its own first, then by code."""
    require(actor, *READERS, Role.SYSTEM, action="查看文件资源")
    candidates = (
        select(Resource)
        .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .where(Resource.status != ResourceStatus.DRAFT, or_(*_shared_as_files()))
    )
    held: dict[int, Grant] = {}
    if oversees(actor):
        candidates = candidates.where(Resource.status == ResourceStatus.PUBLISHED)
    else:
        org_id = own_organization(actor)
        held = _grants_of(db_session, org_id)
        candidates = candidates.where(
            or_(Resource.provider_id == org_id, Resource.id.in_(list(held)))
        )
    resources = [
        r
        for r in db_session.execute(candidates).unique().scalars()
        if is_file_resource(r.current_version)
    ]
    versions = _versions(db_session, [r.id for r in resources])
    views = [_view(actor, r, held.get(r.id), versions[r.id]) for r in resources]
    return sorted(views, key=lambda v: (not v.is_provider, v.resource.code))


# --- upload -------------------------------------------------------------------------------


def _clean_filename(filename: str) -> str:
    """The file's own name, by the platform's one rule for uploaded file names."""
    return check_filename(filename, field="file", max_length=MAX_FILENAME)


def _media_type(content_type: str, filename: str) -> str:
    """The type the uploader declared if well-formed, else one guessed from the name."""
    declared = (content_type or "").strip()
    if declared != DEFAULT_TYPE and len(declared) <= 120 and MEDIA_TYPE.match(declared):
        return declared
    return mimetypes.guess_type(filename)[0] or DEFAULT_TYPE


def _non_empty(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, refused before anything is stored if there are none with bytes."""
    stream = iter(chunks)
    for first in stream:
        if first:
            return itertools.chain([first], stream)
    raise Invalid("文件为空（0 字节），请选择有内容的文件", field="file")


def _discard_unless_committed(db_session: Session, store: FileStore, key: str) -> None:
    """Deletes the stored object when the transaction ends without committing, so a row
    that never reached the database leaves no orphan bytes behind."""
    pending: list[tuple[FileStore, str]] | None = db_session.info.get(_PENDING)
    if pending is None:
        pending = db_session.info[_PENDING] = []
        event.listen(db_session, "after_commit", _keep_pending)
        event.listen(db_session, "after_transaction_end", _discard_pending)
    pending.append((store, key))


def _keep_pending(db_session: Session) -> None:
    db_session.info[_PENDING].clear()


def _discard_pending(db_session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    pending = db_session.info[_PENDING]
    while pending:
        store, key = pending.pop()
        try:
            store.delete(key)
        except Exception:
            log.exception("could not delete the stored file %s of a rolled-back upload", key)


def upload_version(
    db_session: Session,
    *,
    actor: Actor,
    store: FileStore,
    resource_code: str,
    filename: str,
    content_type: str,
    chunks: Iterable[bytes],
    note: str = "",
) -> FileVersion:
    """Stores the next version of a published file resource, streamed; for the provider's
    data officer or staff."""
    require(actor, *UPLOADERS, action="上传文件资源")
    resource = _file_resource(db_session, actor, resource_code)
    if actor.organization_id != resource.provider_id:
        raise Forbidden("只有资源提供部门可以上传文件", field="resource_code")
    if resource.status is not ResourceStatus.PUBLISHED:
        raise Conflict(f"资源{resource.status.label}，不能上传文件", field="resource_code")
    name = _clean_filename(filename)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"版本说明不能超过 {MAX_NOTE} 个字", field="note")
    body = _non_empty(chunks)
    stored = store.put(filestore.new_key(resource.id), body)
    _discard_unless_committed(db_session, store, stored.key)
    # Numbering waits for the bytes: the lock is held from here to the commit, not for
    # the length of an upload.
    db_session.execute(select(Resource.id).where(Resource.id == resource.id).with_for_update())
    last = db_session.execute(
        select(func.max(FileVersion.number)).where(FileVersion.resource_id == resource.id)
    ).scalar()
    version = FileVersion(
        resource_id=resource.id,
        number=(last or 0) + 1,
        filename=name,
        content_type=_media_type(content_type, name),
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        note=note,
        uploaded_at=clock.now(),
        uploaded_by=actor.label,
    )
    db_session.add(version)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.file.upload",
        object_type="resource",
        object_id=resource.id,
        details={
            "resource": resource.code,
            "version": version.number,
            "filename": name,
            "content_type": version.content_type,
            "size": stored.size,
            "sha256": stored.sha256,
            "note": note,
        },
    )
    return version


# --- download -----------------------------------------------------------------------------


def open_version(
    db_session: Session,
    *,
    actor: Actor,
    store: FileStore,
    resource_code: str,
    number: int | None = None,
) -> Download:
    """Opens a version (the latest when `number` is None) for its provider or a department
    with a usable grant; anyone else gets `Refused` with the reason."""
    require(actor, *DOWNLOADERS, action="下载文件资源")
    resource = _file_resource(db_session, actor, resource_code)
    grant: Grant | None = None
    if not _is_provider(actor, resource):
        decision = access.check_access(db_session, actor=actor, resource_id=resource.id)
        if not decision.allowed:
            extra = (
                {"grant_id": decision.grant.id, "grant_state": decision.grant.state.value}
                if decision.grant is not None
                else {}
            )
            raise Refused(decision.reason, field="grant", **extra)
        grant = decision.grant
    version = _version(db_session, resource, number)
    try:
        reader = store.open(version.storage_key)
    except filestore.ObjectMissing:
        log.error("file store has no object %s for %s", version.storage_key, resource.code)
        raise NotFound(
            f"第 {version.number} 版的文件内容在存储中缺失，请联系平台管理员",
            field="number",
        ) from None
    record(
        db_session,
        actor=actor,
        action="exchange.file.download",
        object_type="resource",
        object_id=resource.id,
        details={
            "resource": resource.code,
            "version": version.number,
            "filename": version.filename,
            "size": version.size,
            "sha256": version.sha256,
            "grant": grant.number if grant else None,
            "as_provider": grant is None,
        },
    )
    if grant is not None:
        record_use(db_session, actor=actor, grant=grant, kind=UseKind.FILE, rows=None)
    return Download(version, reader)


def _version(db_session: Session, resource: Resource, number: int | None) -> FileVersion:
    stmt = select(FileVersion).where(FileVersion.resource_id == resource.id)
    if number is None:
        found = db_session.execute(stmt.order_by(FileVersion.number.desc()).limit(1)).scalar()
        if found is None:
            raise NotFound("该资源还没有上传文件", field="number")
        return found
    found = db_session.execute(stmt.where(FileVersion.number == number)).scalar()
    if found is None:
        raise NotFound(f"文件第 {number} 版不存在", field="number")
    return found

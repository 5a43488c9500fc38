"""File resources (EXC-3): numbered versions with size and SHA-256, streamed upload by the
provider, streamed download within a usable grant, refusals with the reason, nothing left
behind by a failed upload, every upload and download in the audit log — through the
services, the JSON API and the pages, on the data directory and on S3 (moto's server)."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.exchange import filestore
from govshare.exchange.filestore import LocalStore, ObjectDamaged
from govshare.exchange.models import FileVersion
from govshare.exchange.service import files
from govshare.identity.models import User
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from govshare.web.app import create_app
from tests.builders import actor_of, count, organization, user
from tests.exchange.file_scenarios import (
    REPORT,
    REPORT_NAME,
    FileWorld,
    direct_grant,
    file_world,
    pieces,
    upload,
)
from tests.exchange.test_filestore import bucket, raw_client, s3_endpoint  # noqa: F401
from tests.http import csrf_for, sign_in

TODAY = "2026-10-12T09:00:00+08:00"
PROBLEM = "application/problem+json"
API = "/api/v1/exchange/files"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with clock.frozen(TODAY):
        yield


@pytest.fixture
def fw(db: Session) -> FileWorld:
    world = file_world(db)
    db.commit()
    return world


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    """The data directory's store, the same one the `app` fixture's settings name."""
    return LocalStore(tmp_path.resolve() / "files")


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def audit(db: Session, action: str) -> list[dict[str, Any]]:
    rows = db.execute(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    ).scalars()
    return [json.loads(r.details) for r in rows]


def suspend(fw: FileWorld, reason: str = "向无关单位转发统计报表") -> None:
    grant = direct_grant(fw)
    grants.suspend_grant(
        fw.db, actor=fw.provider_officer, grant_id=grant.id, data=GrantActionIn(reason=reason)
    )


def download(fw: FileWorld, store: LocalStore, actor: Actor, number: int | None = None) -> bytes:
    opened = files.open_version(
        fw.db, actor=actor, store=store, resource_code=fw.code, number=number
    )
    return b"".join(opened.chunks())


# --- upload -----------------------------------------------------------------------------


def test_upload_stores_version_one_with_its_size_and_sha256(
    fw: FileWorld, store: LocalStore
) -> None:
    version = upload(fw, store, note="数据截至 2026-09-30")
    assert version.number == 1 and version.filename == REPORT_NAME
    assert version.size == len(REPORT)
    assert version.sha256 == hashlib.sha256(REPORT).hexdigest()
    assert version.content_type == "application/pdf"
    assert version.uploaded_by == fw.provider_staff.label
    assert b"".join(store.open(version.storage_key)) == REPORT
    assert stored_files(store.root) == [store.root.joinpath(*version.storage_key.split("/"))]


def test_second_upload_becomes_version_two_and_keeps_the_first(
    fw: FileWorld, store: LocalStore
) -> None:
    first = upload(fw, store)
    second = upload(fw, store, b"revised " + REPORT, filename="修订版.pdf")
    assert (first.number, second.number) == (1, 2)
    assert first.storage_key != second.storage_key
    listed = files.list_versions(fw.db, actor=fw.provider_officer, resource_code=fw.code)
    assert [v.number for v in listed] == [2, 1]
    assert download(fw, store, fw.provider_staff, 1) == REPORT


def test_upload_is_audited_with_size_and_sha256(fw: FileWorld, store: LocalStore) -> None:
    version = upload(fw, store)
    [entry] = audit(fw.db, "exchange.file.upload")
    assert entry["resource"] == fw.code and entry["version"] == 1
    assert (entry["size"], entry["sha256"]) == (version.size, version.sha256)
    assert entry["filename"] == REPORT_NAME


def test_failed_upload_mid_stream_leaves_no_file_and_no_row(
    fw: FileWorld, store: LocalStore
) -> None:
    def dropped() -> Iterator[bytes]:
        yield from pieces(REPORT[:20_000])
        raise ConnectionResetError("uploader went away")

    with pytest.raises(ConnectionResetError):
        files.upload_version(
            fw.db,
            actor=fw.provider_staff,
            store=store,
            resource_code=fw.code,
            filename=REPORT_NAME,
            content_type="application/pdf",
            chunks=dropped(),
        )
    fw.db.rollback()
    assert stored_files(store.root) == []
    assert count(fw.db, FileVersion) == 0
    assert audit(fw.db, "exchange.file.upload") == []


def test_upload_rolled_back_after_storing_leaves_no_file(fw: FileWorld, store: LocalStore) -> None:
    version = upload(fw, store)
    assert store.exists(version.storage_key)
    fw.db.rollback()  # e.g. the commit failed
    assert not store.exists(version.storage_key) and stored_files(store.root) == []
    assert count(fw.db, FileVersion) == 0


def test_committed_upload_keeps_its_file(fw: FileWorld, store: LocalStore) -> None:
    version = upload(fw, store)
    fw.db.commit()
    fw.db.rollback()  # a later transaction's rollback does not touch it
    assert store.exists(version.storage_key)


def test_empty_file_is_refused_naming_the_field(fw: FileWorld, store: LocalStore) -> None:
    with pytest.raises(Invalid, match="文件为空") as refused:
        upload(fw, store, b"")
    assert refused.value.field == "file"
    assert stored_files(store.root) == []


def test_file_name_over_255_characters_is_refused(fw: FileWorld, store: LocalStore) -> None:
    with pytest.raises(Invalid, match="255") as refused:
        upload(fw, store, filename="统" * 252 + ".pdf")
    assert refused.value.field == "file"
    assert upload(fw, store, filename="统" * 251 + ".pdf").filename == "统" * 251 + ".pdf"


def test_browser_path_is_stripped_from_the_file_name(fw: FileWorld, store: LocalStore) -> None:
    version = upload(fw, store, filename="C:\\fakepath\\人口报表.pdf", content_type="")
    assert version.filename == "人口报表.pdf"
    assert version.content_type == "application/pdf"  # guessed from the name


def test_only_the_providers_data_officer_or_staff_upload(fw: FileWorld, store: LocalStore) -> None:
    with pytest.raises(Forbidden, match="提供部门"):
        upload(fw, store, actor=fw.consumer_officer)
    head = actor_of(user(fw.db, fw.provider, [Role.DEPARTMENT_HEAD]))
    with pytest.raises(Forbidden):
        upload(fw, store, actor=head)
    assert upload(fw, store, actor=fw.provider_officer).number == 1
    assert len(stored_files(store.root)) == 1


def test_upload_to_a_resource_not_shared_as_files_is_refused(
    fw: FileWorld, store: LocalStore
) -> None:
    with pytest.raises(Conflict, match="不是文件资源") as refused:
        files.upload_version(
            fw.db,
            actor=fw.provider_staff,
            store=store,
            resource_code=fw.table.code,
            filename="a.pdf",
            content_type="application/pdf",
            chunks=[b"x"],
        )
    assert refused.value.field == "resource_code"


# --- download -----------------------------------------------------------------------------


def test_grantee_downloads_the_bytes_in_chunks(fw: FileWorld, store: LocalStore) -> None:
    upload(fw, store)
    upload(fw, store, b"v2 " + REPORT)
    grant = direct_grant(fw)
    opened = files.open_version(
        fw.db, actor=fw.consumer_officer, store=store, resource_code=fw.code, number=1
    )
    chunks = list(opened.chunks())
    assert b"".join(chunks) == REPORT
    assert len(chunks) > 1 and max(map(len, chunks)) <= filestore.CHUNK_SIZE
    assert download(fw, store, fw.consumer_officer) == b"v2 " + REPORT  # the latest
    entries = audit(fw.db, "exchange.file.download")
    assert [(e["version"], e["grant"], e["as_provider"]) for e in entries] == [
        (1, grant.number, False),
        (2, grant.number, False),
    ]


def test_download_without_grant_is_refused_with_the_reason(
    fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    with pytest.raises(files.Refused, match="没有该资源的共享授权") as refused:
        download(fw, store, fw.consumer_officer)
    assert refused.value.status == 403 and refused.value.field == "grant"
    [check] = audit(fw.db, "sharing.grant.access")
    assert check["allowed"] is False
    assert audit(fw.db, "exchange.file.download") == []


def test_download_with_a_suspended_grant_is_refused_with_the_reason(
    fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    suspend(fw, "向无关单位转发统计报表")
    with pytest.raises(files.Refused, match="已被暂停使用：向无关单位转发统计报表") as refused:
        download(fw, store, fw.consumer_officer)
    assert refused.value.extra["grant_state"] == "suspended"


def test_provider_downloads_its_own_without_a_grant(fw: FileWorld, store: LocalStore) -> None:
    upload(fw, store)
    assert download(fw, store, fw.provider_staff) == REPORT
    [entry] = audit(fw.db, "exchange.file.download")
    assert entry["as_provider"] is True and entry["grant"] is None
    assert audit(fw.db, "sharing.grant.access") == []


def test_no_version_yet_is_not_found(fw: FileWorld, store: LocalStore) -> None:
    direct_grant(fw)
    with pytest.raises(NotFound, match="还没有上传文件"):
        download(fw, store, fw.consumer_officer)


def test_damaged_stored_file_ends_the_download_early(fw: FileWorld, store: LocalStore) -> None:
    version = upload(fw, store)
    path = store.root.joinpath(*version.storage_key.split("/"))
    path.write_bytes(REPORT.replace(b"2026", b"2027", 1))
    opened = files.open_version(fw.db, actor=fw.provider_staff, store=store, resource_code=fw.code)
    with pytest.raises(ObjectDamaged):
        b"".join(opened.chunks())


def test_upload_and_download_hold_chunks_not_the_file(fw: FileWorld, store: LocalStore) -> None:
    total, block = 24 * MIB, os.urandom(256 * 1024)

    def generated() -> Iterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        version = files.upload_version(
            fw.db,
            actor=fw.provider_staff,
            store=store,
            resource_code=fw.code,
            filename="大文件.bin",
            content_type="",
            chunks=generated(),
        )
        for chunk in files.open_version(
            fw.db, actor=fw.provider_staff, store=store, resource_code=fw.code
        ).chunks():
            digest.update(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert version.size == total and digest.hexdigest() == version.sha256
    assert peak < 4 * MIB


# --- who sees what ------------------------------------------------------------------------


def test_file_resources_list_the_departments_own_and_granted_ones(
    fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    own = files.file_resources(fw.db, actor=fw.provider_officer)
    assert [(r.resource.code, r.is_provider, r.can_upload) for r in own] == [(fw.code, True, True)]
    assert files.file_resources(fw.db, actor=fw.consumer_officer) == []
    direct_grant(fw)
    [granted] = files.file_resources(fw.db, actor=fw.consumer_officer)
    assert granted.can_download and not granted.can_upload and granted.latest.number == 1
    everything = files.file_resources(fw.db, actor=fw.op)
    assert fw.code in {r.resource.code for r in everything}
    assert not any(r.can_download for r in everything)


def test_a_department_without_grant_sees_the_resource_but_not_its_versions(
    fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    view = files.get_file_resource(fw.db, actor=fw.consumer_officer, resource_code=fw.code)
    assert view.versions == [] and not view.can_download and "没有该资源的共享授权" in view.reason
    with pytest.raises(Forbidden):
        files.list_versions(fw.db, actor=fw.consumer_officer, resource_code=fw.code)
    suspend(fw)
    view = files.get_file_resource(fw.db, actor=fw.consumer_officer, resource_code=fw.code)
    assert [v.number for v in view.versions] == [1] and not view.can_download
    assert "已暂停" in view.reason and "向无关单位转发统计报表" in view.reason


# --- JSON API ------------------------------------------------------------------------------


def as_user(client: TestClient, app: FastAPI, db: Session, actor: Actor) -> dict[str, str]:
    username = db.get(User, actor.user_id).username
    client.cookies.clear()
    assert sign_in(client, username).status_code == 200
    return csrf_for(app, client)


def post_file(
    client: TestClient,
    headers: dict[str, str],
    code: str,
    data: bytes,
    name: str = REPORT_NAME,
    **form: str,
) -> Any:
    return client.post(
        f"{API}/{code}/versions",
        files={"file": (name, data, "application/pdf")},
        data=form,
        headers=headers,
    )


def test_api_upload_list_and_download_round_trip(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld
) -> None:
    headers = as_user(client, app, db, fw.provider_staff)
    created = post_file(client, headers, fw.code, REPORT, note="第三季度")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["number"], body["size"]) == (1, len(REPORT))
    assert body["sha256"] == hashlib.sha256(REPORT).hexdigest()
    assert body["filename"] == REPORT_NAME and body["note"] == "第三季度"
    assert post_file(client, headers, fw.code, b"v2", "v2.pdf").json()["number"] == 2

    direct_grant(fw)
    db.commit()
    as_user(client, app, db, fw.consumer_officer)
    listed = client.get(f"{API}/{fw.code}/versions")
    assert [v["number"] for v in listed.json()] == [2, 1]
    got = client.get(listed.json()[1]["content_url"])
    assert got.status_code == 200 and got.content == REPORT
    assert got.headers["content-length"] == str(len(REPORT))
    assert got.headers["etag"] == f'"{body["sha256"]}"'
    assert got.headers["content-type"] == "application/pdf"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="2026_')
    assert "filename*=UTF-8''2026%E5%B9%B4" in disposition
    latest = client.get(f"{API}/{fw.code}/content")
    assert (
        latest.content == b"v2"
        and latest.headers["etag"] == f'"{hashlib.sha256(b"v2").hexdigest()}"'
    )


def test_api_download_with_suspended_grant_is_a_403_problem_with_the_reason(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    suspend(fw, "超出授权用途使用")
    db.commit()
    as_user(client, app, db, fw.consumer_officer)
    refused = client.get(f"{API}/{fw.code}/versions/1/content")
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert "已被暂停使用：超出授权用途使用" in problem["detail"]
    assert problem["field"] == "grant" and problem["grant_state"] == "suspended"
    # The refusal was committed with the request, not rolled back with the error.
    assert audit(db, "sharing.grant.access")[-1]["allowed"] is False


def test_api_download_without_grant_is_refused(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    db.commit()
    as_user(client, app, db, fw.consumer_officer)
    refused = client.get(f"{API}/{fw.code}/content")
    assert refused.status_code == 403 and "没有该资源的共享授权" in refused.json()["detail"]


def test_api_empty_upload_is_422_naming_the_file_field(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld, store: LocalStore
) -> None:
    headers = as_user(client, app, db, fw.provider_staff)
    empty = post_file(client, headers, fw.code, b"")
    assert empty.status_code == 422 and empty.headers["content-type"] == PROBLEM
    assert empty.json()["field"] == "file" and "文件为空" in empty.json()["detail"]
    assert stored_files(store.root) == []


def test_api_upload_failing_after_the_bytes_are_stored_leaves_nothing(
    app: FastAPI,
    db: Session,
    fw: FileWorld,
    store: LocalStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_record = files.record

    def failing_record(db_session: Session, **kw: Any) -> Any:
        if kw["action"] == "exchange.file.upload":
            raise OSError("database connection lost")
        return real_record(db_session, **kw)

    monkeypatch.setattr(files, "record", failing_record)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = as_user(client, app, db, fw.provider_staff)
        failed = post_file(client, headers, fw.code, REPORT)
    assert failed.status_code == 500
    assert stored_files(store.root) == []
    assert count(db, FileVersion) == 0


# --- pages --------------------------------------------------------------------------------


def test_pages_upload_list_and_download(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld
) -> None:
    headers = as_user(client, app, db, fw.provider_officer)
    page = f"/exchange/files/{fw.code}"
    assert 'id="upload"' in client.get(page).text
    posted = client.post(
        f"{page}/upload",
        files={"file": (REPORT_NAME, REPORT, "application/pdf")},
        data={"note": "第三季度"},
        headers=headers,
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"] == page
    shown = client.get(page).text
    assert "第 1 版" in shown and hashlib.sha256(REPORT).hexdigest() in shown
    assert "本单位提供" in client.get("/exchange/files").text

    direct_grant(fw)
    db.commit()
    as_user(client, app, db, fw.consumer_officer)
    assert "常住人口统计季报" in client.get("/exchange/files").text
    assert f"{page}/versions/1/download" in client.get(page).text
    got = client.get(f"{page}/versions/1/download")
    assert got.status_code == 200 and got.content == REPORT


def test_page_upload_of_an_empty_file_shows_the_error_beside_the_field(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld, store: LocalStore
) -> None:
    headers = as_user(client, app, db, fw.provider_staff)
    posted = client.post(
        f"/exchange/files/{fw.code}/upload",
        files={"file": ("空.pdf", b"", "application/pdf")},
        data={"note": "留着"},
        headers=headers,
    )
    assert posted.status_code == 422
    assert "文件为空" in posted.text and "留着" in posted.text
    assert stored_files(store.root) == []


def test_page_download_refused_shows_the_reason_and_is_logged(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    suspend(fw, "超出授权用途使用")
    db.commit()
    as_user(client, app, db, fw.consumer_officer)
    page = client.get(f"/exchange/files/{fw.code}")
    assert "超出授权用途使用" in page.text and "/versions/1/download" not in page.text
    refused = client.get(f"/exchange/files/{fw.code}/versions/1/download")
    assert refused.status_code == 403 and "超出授权用途使用" in refused.text
    assert audit(db, "sharing.grant.access")[-1]["allowed"] is False


def test_page_of_another_department_explains_the_missing_grant(
    app: FastAPI, client: TestClient, db: Session, fw: FileWorld, store: LocalStore
) -> None:
    upload(fw, store)
    other = actor_of(user(db, organization(db, "市教育局"), [Role.DATA_OFFICER]))
    db.commit()
    as_user(client, app, db, other)
    page = client.get(f"/exchange/files/{fw.code}").text
    assert "没有该资源的共享授权" in page and REPORT_NAME not in page


# --- S3-compatible storage ------------------------------------------------------------------


@pytest.fixture
def s3_app(db: Session, tmp_path: Path, s3_endpoint: str, bucket: str) -> FastAPI:  # noqa: F811
    environ = {
        "GOVSHARE_DATA_DIR": str(tmp_path),
        "GOVSHARE_FILE_STORE": "s3",
        "GOVSHARE_S3_ENDPOINT_URL": s3_endpoint,
        "GOVSHARE_S3_BUCKET": bucket,
        "GOVSHARE_S3_REGION": "us-east-1",
        "GOVSHARE_S3_ACCESS_KEY": "testing",
        "GOVSHARE_S3_SECRET_KEY": "testing",
    }
    runtime = Runtime(
        settings=load_settings(environ=environ),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    return create_app(runtime)


def test_api_round_trip_on_s3_uploads_a_large_file_in_parts(
    s3_app: FastAPI,
    db: Session,
    fw: FileWorld,
    s3_endpoint: str,  # noqa: F811
    bucket: str,  # noqa: F811
) -> None:
    data = os.urandom(9 * MIB)  # over one 8 MiB part: a multipart upload
    with TestClient(s3_app) as client:
        headers = as_user(client, s3_app, db, fw.provider_staff)
        created = post_file(client, headers, fw.code, data, "影像资料.bin")
        assert created.status_code == 201, created.text
        assert created.json()["sha256"] == hashlib.sha256(data).hexdigest()
        direct_grant(fw)
        db.commit()
        as_user(client, s3_app, db, fw.consumer_officer)
        got = client.get(f"{API}/{fw.code}/content")
    assert got.status_code == 200 and got.content == data
    key = db.execute(select(FileVersion.storage_key)).scalar_one()
    head = raw_client(s3_endpoint).head_object(Bucket=bucket, Key=f"files/{key}")
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-2")


def test_s3_upload_rolled_back_is_deleted_from_the_bucket(
    fw: FileWorld,
    s3_endpoint: str,  # noqa: F811
    bucket: str,  # noqa: F811
) -> None:
    s3 = filestore.S3Store(
        bucket=bucket,
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
    )
    version = upload(fw, s3)
    assert s3.exists(version.storage_key)
    fw.db.rollback()
    assert not s3.exists(version.storage_key)
    assert raw_client(s3_endpoint).list_objects_v2(Bucket=bucket).get("KeyCount") == 0

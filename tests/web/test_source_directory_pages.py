"""The source directories page (源库目录): the platform operator assigns each department the
directory its SQLite source files must live in; a department sees its own and cannot assign."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.exchange.models import SourceDirectory
from tests.http import post_page_form, sign_in_as
from tests.sharing.builders import Sharing, sharing_world

PAGE = "/exchange/source-directories"


@pytest.fixture
def world(db: Session) -> Iterator[Sharing]:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        w = sharing_world(db)
        db.commit()
        yield w


def _row(html: str, org_id: int) -> str:
    start = html.index(f'id="org-{org_id}"')
    return html[start : html.index("</tr>", start)]


def test_the_operator_assigns_a_directory_and_the_department_sees_it(
    client: TestClient, db: Session, world: Sharing, tmp_path: Path
) -> None:
    sign_in_as(client, db, world.op)
    listed = client.get(PAGE)
    assert listed.status_code == 200
    assert "未分配" in _row(listed.text, world.provider.id)
    assert "未分配" in _row(listed.text, world.consumer.id)  # every department is listed

    action = f"{PAGE}/{world.provider.id}"
    done = post_page_form(client, PAGE, action, {"path": "sources/gaj"})
    assert done.status_code == 303, done.text
    shown = client.get(PAGE).text
    assert "已为市公安局分配源库目录 sources/gaj" in shown
    assert "sources/gaj" in _row(shown, world.provider.id)
    assert (tmp_path / "sources" / "gaj").is_dir()  # created under the data directory
    entry = db.execute(
        select(AuditEntry).where(AuditEntry.action == "exchange.source_directory.assign")
    ).scalar_one()
    assert json.loads(entry.details)["path"] == "sources/gaj"

    sign_in_as(client, db, world.provider_officer)
    own = client.get(PAGE)
    assert own.status_code == 200
    assert "sources/gaj" in _row(own.text, world.provider.id)
    assert f'id="org-{world.consumer.id}"' not in own.text  # only its own
    assert f'action="{action}"' not in own.text  # and no form to assign


def test_a_path_outside_the_data_directory_is_refused_beside_its_row(
    client: TestClient, db: Session, world: Sharing, tmp_path: Path
) -> None:
    sign_in_as(client, db, world.op)
    action = f"{PAGE}/{world.provider.id}"
    for path, status, reason in (
        ("../elsewhere", 403, "源库目录必须是平台数据目录之下的子目录"),
        ("/etc", 403, "源库目录必须是平台数据目录之下的子目录"),
        ("govshare.db", 403, "包含或位于平台自身的文件中"),
        ("", 422, "请填写源库目录"),
    ):
        refused = post_page_form(client, PAGE, action, {"path": path})
        assert refused.status_code == status, (path, refused.text)
        row = _row(refused.text, world.provider.id)
        assert 'role="alert"' in row and 'aria-invalid="true"' in row and reason in row, path
        assert f'value="{path}"' in row  # the typed path stays in the field
    assert db.execute(select(SourceDirectory)).scalars().all() == []
    assert not (tmp_path.parent / "elsewhere").exists()


def test_a_department_cannot_assign_itself_a_directory(
    client: TestClient, db: Session, world: Sharing
) -> None:
    sign_in_as(client, db, world.provider_officer)
    # Its page has no form to assign; a post with the session's own CSRF token is refused.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(PAGE).text)
    assert token is not None
    refused = client.post(
        f"{PAGE}/{world.provider.id}",
        data={"path": "sources/mine", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert refused.status_code == 403, refused.text
    assert db.execute(select(SourceDirectory)).scalars().all() == []

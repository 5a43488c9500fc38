"""Entries the sequencer has not reached yet are listed (newest first) and shown as waiting,
in the API and on the page, without an error."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core.audit import service as audit_service
from govshare.core.permissions import Actor
from tests.builders import operator
from tests.http import csrf_for, sign_in


def test_waiting_entries_are_listed_first_and_marked(
    db: Session, app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator(db)
    db.commit()
    assert sign_in(client, "operator").status_code == 200
    client.headers.update(csrf_for(app, client))
    monkeypatch.setattr(audit_service, "sequencing", "sequencer")
    audit_service.record(
        db, actor=Actor.command_line("test"), action="test.waiting", object_type="thing"
    )
    db.commit()
    found = client.get("/api/v1/audit", params={"per_page": 5})
    assert found.status_code == 200, found.text
    first = found.json()["entries"][0]
    assert (first["action"], first["seq"], first["hash"]) == ("test.waiting", None, None)
    assert first["id"] > 0
    page = client.get("/audit")
    assert page.status_code == 200 and "待排序" in page.text

"""The circulated notice (通报) as a PDF document in the city's name, beside its printable page."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from govshare.core import clock
from tests.http import sign_in_as
from tests.supervision.builders import PAST_NOTICE, escalate, overdue


def _pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_circulated_notice_downloads_as_pdf(client: TestClient, db: Session) -> None:
    o = overdue(db)
    escalate(db)
    db.commit()
    with clock.frozen(PAST_NOTICE):
        sign_in_as(client, db, o.s.authority)
        page = client.get(f"/supervision/circulars/{o.notice.id}")
        assert f"/supervision/circulars/{o.notice.id}/pdf" in page.text
        found = client.get(f"/supervision/circulars/{o.notice.id}/pdf")
        assert found.status_code == 200
        text = _pdf_text(found.content)
        assert "关于市公安局逾期未完成整改的通报" in text
        assert o.notice.circular_number in text and "2026年12月8日" in text
        assert client.get(f"/supervision/circulars/{o.notice.id + 1000}/pdf").status_code == 404

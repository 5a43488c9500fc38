"""A signed-in portal account for tests: an account and a session row written straight into
the portal database (the account pages are not needed to hold a session)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient

from govshare.core import clock
from govshare.portal.accounts import SESSION_COOKIE
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalAccount, PortalSession


@dataclass(frozen=True)
class Account:
    id: int
    csrf: str


def account(
    portal: PortalDatabase,
    name: str = "李明",
    *,
    kind: str = "person",
    id_number: str | None = "11010519491231002X",
    credit_code: str | None = None,
    mobile: str = "13800138000",
) -> int:
    """A registered account; its id."""
    portal.ensure_schema()
    with portal.session() as ps:
        row = PortalAccount(
            kind=kind,
            name=name,
            id_number=id_number,
            credit_code=credit_code,
            mobile=mobile,
            login=mobile,
            password_hash="x",
            created_at=clock.now(),
        )
        ps.add(row)
        ps.flush()
        return row.id


def session(portal: PortalDatabase, account_id: int) -> tuple[str, Account]:
    """A fresh session of the account: its cookie's token, and the account with its form token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    with portal.session() as ps:
        ps.add(
            PortalSession(
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                account_id=account_id,
                csrf=csrf,
                expires_at=clock.now() + timedelta(hours=8),
            )
        )
    return token, Account(account_id, csrf)


def sign_in(client: TestClient, portal: PortalDatabase, account_id: int) -> Account:
    """`client` signed in as the account: a fresh session, its cookie set."""
    token, signed_in = session(portal, account_id)
    client.cookies.set(SESSION_COOKIE, token)
    return signed_in

"""Platforms for federation tests: each a runtime of its own over its own SQLite file, with
an operator, a certificate authority, a federation identity and a running listener."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from govshare.core import migrate
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from govshare.federation import listener
from govshare.federation import service as federation
from govshare.federation.models import PlatformLevel
from govshare.pki import service as pki
from tests.builders import operator

DAYS = 365


@dataclass
class Platform:
    runtime: Runtime
    code: str
    name: str
    level: PlatformLevel
    url: str
    actor: Actor
    organization_id: int

    def anchor(self) -> str:
        with self.runtime.transaction() as db_session:
            pem = pki.ca_certificate(db_session)
        assert pem is not None
        return pem

    def peer_with(self, other: Platform) -> int:
        """Trusts `other` (one side of a peering); the peer's id here."""
        with self.runtime.transaction() as db_session:
            peer = federation.add_peer(
                db_session,
                actor=self.actor,
                code=other.code,
                name=other.name,
                level=other.level,
                url=other.url,
                anchor_pem=other.anchor(),
            )
            return peer.id


def runtime_at(path: Path) -> Runtime:
    path.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        environ={},
        data_dir=path,
        database_url=f"sqlite:///{path / 'govshare.db'}",
        secret_key="federation-test-" + path.name * 4,
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    return runtime


@contextlib.contextmanager
def platform(path: Path, code: str, name: str, level: PlatformLevel) -> Iterator[Platform]:
    """A platform listening on a free loopback port until the block ends."""
    runtime = runtime_at(path)
    with listener.listening(runtime, "127.0.0.1", 0) as server:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        with runtime.transaction() as db_session:
            actor, account = operator(db_session)
            assert account.organization_id is not None
            pki.init_authority(
                db_session, actor=actor, settings=runtime.settings, name=f"{name} CA"
            )
            federation.init_identity(
                db_session,
                actor=actor,
                settings=runtime.settings,
                validity_days=DAYS,
                organization_id=account.organization_id,
                code=code,
                name=name,
                level=level,
                url=url,
            )
            org_id = account.organization_id
        yield Platform(runtime, code, name, level, url, actor, org_id)
    runtime.engine.dispose()


def peered(upper: Platform, lower: Platform) -> tuple[int, int]:
    """Both sides trust each other; (the lower's id at the upper, the upper's at the lower)."""
    return upper.peer_with(lower), lower.peer_with(upper)

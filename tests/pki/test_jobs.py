"""The CRL kept current by the job workers: regenerated once less than half of its seven days
remain, not before; audited as the console's `govshare pki crl`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.runtime import Runtime
from govshare.core.scheduler import TASKS
from govshare.core.settings import load_settings
from govshare.pki import jobs
from govshare.pki import service as pki_service
from govshare.pki.models import CertificateAuthority
from tests.builders import operator

MADE_AT = "2026-10-12T09:00:00+08:00"


def _runtime(db: Session, data_dir: Path) -> Runtime:
    return Runtime(
        settings=load_settings(environ={"GOVSHARE_DATA_DIR": str(data_dir)}),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )


def test_the_crl_renewal_is_a_periodic_task() -> None:
    [task] = [t for t in TASKS if t.name == "pki.crl"]
    assert (task.every, task.load()) == ("hour", jobs.renew_crl)


def test_without_an_authority_there_is_nothing_to_renew(db: Session, data_dir: Path) -> None:
    assert jobs.renew_crl(_runtime(db, data_dir)) == "no certificate authority"


def test_the_crl_is_regenerated_once_half_its_validity_has_passed(
    db: Session, data_dir: Path
) -> None:
    runtime = _runtime(db, data_dir)
    with clock.frozen(MADE_AT):
        op, _ = operator(db)
        made = clock.now()
        pki_service.init_authority(db, actor=op, settings=runtime.settings, name="测试市 CA")
        db.commit()
    # Three days and a half less an hour: more than half of the seven days remain.
    with clock.frozen(made + timedelta(days=3, hours=11)):
        assert jobs.renew_crl(runtime) == "CRL not due"
    later = made + timedelta(days=3, hours=13)
    with clock.frozen(later):
        assert jobs.renew_crl(runtime) == "CRL 2 published, next update 2026-10-22 22:00"
        assert jobs.renew_crl(runtime) == "CRL not due"  # the next tick finds it fresh
    db.expire_all()
    authority = db.execute(select(CertificateAuthority)).scalar_one()
    assert authority.crl_der is not None
    crl = x509.load_der_x509_crl(authority.crl_der)
    assert crl.next_update_utc == later + timedelta(days=7)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    published = db.execute(
        select(AuditEntry).where(AuditEntry.action == "pki.crl.publish")
    ).scalars()
    assert [e.actor_label for e in published] == ["job:pki.crl"]

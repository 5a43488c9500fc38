"""Messages between peered platforms (LVL-1, LVL-2): over mutual TLS, signed, and logged on
both sides under one message id; and every way a would-be peer is refused, each audited."""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.runtime import Runtime
from govshare.federation import envelope, transport
from govshare.federation import service as federation
from govshare.federation.models import Direction, Outcome, PeerMessage, PeerState, PlatformLevel
from govshare.pki import service as pki
from govshare.pki.models import RevocationReason
from tests.federation.builders import Platform, peered, platform

CITY, COUNTY = "361100", "361102"


@pytest.fixture
def city(tmp_path: Path) -> Iterator[Platform]:
    with platform(tmp_path / "city", CITY, "江州市政务数据共享平台", PlatformLevel.CITY) as p:
        yield p


@pytest.fixture
def county(tmp_path: Path) -> Iterator[Platform]:
    with platform(
        tmp_path / "county", COUNTY, "江州市信州区政务数据共享平台", PlatformLevel.COUNTY
    ) as p:
        yield p


def _audits(runtime: Runtime, action: str) -> list[dict]:
    with runtime.transaction() as db_session:
        return [
            json.loads(e.details)
            for e in db_session.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            ).scalars()
        ]


def _refusals(runtime: Runtime) -> list[str]:
    """The refused connections' reasons, once the listener has audited them: the client sees
    the handshake fail a moment before the listener's thread writes its entry."""
    deadline = time.monotonic() + 30
    while not (found := _audits(runtime, "federation.connection.refused")):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return [d["reason"] for d in found]


def _messages(runtime: Runtime) -> list[PeerMessage]:
    with runtime.transaction() as db_session:
        return list(db_session.execute(select(PeerMessage).order_by(PeerMessage.id)).scalars())


def _peer_id(at: Platform, code: str) -> int:
    with at.runtime.transaction() as db_session:
        peer = federation.peer_by_code(db_session, code)
        assert peer is not None
        return peer.id


def test_a_hello_is_signed_answered_and_logged_on_both_sides_under_one_id(
    city: Platform, county: Platform
) -> None:
    peered(city, county)
    reply = transport.greet(county.runtime, peer_id=_peer_id(county, CITY), actor=county.actor)
    assert reply.body["code"] == CITY and reply.body["name"] == city.name
    sent = _audits(county.runtime, "federation.message.sent")
    received = _audits(city.runtime, "federation.message.received")
    assert [s["message_id"] for s in sent] == [reply.message_id]
    assert [r["message_id"] for r in received] == [reply.message_id]
    assert sent[0]["digest"] == received[0]["digest"]  # the same signed bytes on both sides
    assert sent[0]["outcome"] == received[0]["outcome"] == "ok"
    (at_city,) = _messages(city.runtime)
    assert (at_city.direction, at_city.kind, at_city.outcome) == (
        Direction.RECEIVED,
        "hello",
        Outcome.OK,
    )
    with city.runtime.transaction() as db_session:  # each side now holds the other's CRL
        assert federation.peer_by_code(db_session, COUNTY).crl_der is not None  # type: ignore[union-attr]
    with county.runtime.transaction() as db_session:
        assert federation.peer_by_code(db_session, CITY).crl_der is not None  # type: ignore[union-attr]


def test_a_platform_the_other_side_has_not_peered_with_is_refused_at_the_handshake(
    city: Platform, county: Platform
) -> None:
    county.peer_with(city)  # the city has not added the county
    with pytest.raises(transport.PeerUnavailable):
        transport.greet(county.runtime, peer_id=_peer_id(county, CITY), actor=county.actor)
    assert _refusals(city.runtime) == ["untrusted_issuer"]
    (failed,) = _messages(county.runtime)
    assert failed.outcome is Outcome.FAILED and failed.direction is Direction.SENT


# --- certificates a would-be peer presents ---------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    not_before: timedelta = timedelta(days=-1),
    not_after: timedelta = timedelta(days=30),
    ca: bool = False,
) -> x509.Certificate:
    now = clock.now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _credentials(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> federation.Credentials:
    from cryptography.hazmat.primitives import serialization

    return federation.Credentials(
        code=COUNTY,
        name="信州区",
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key=key,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
    )


def _post_as(
    creds: federation.Credentials, to: Platform, *, message_id: str | None = None
) -> tuple[int, dict]:
    raw = envelope.canonical(
        envelope.build(
            message_id=message_id or str(uuid.uuid4()),
            kind="hello",
            sender=COUNTY,
            recipient=to.code,
            sent_at=clock.now(),
            body={},
        )
    )
    status, reply, _, _ = transport._post(
        to.url, transport.client_context(creds, to.anchor()), raw, envelope.sign(creds.key, raw), 10
    )
    return status, json.loads(reply)


def _county_ca(county: Platform) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    with county.runtime.transaction() as db_session:
        authority = pki._required_authority(db_session)
        cert, key = pki._ca(authority, county.runtime.settings)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def test_a_certificate_from_an_untrusted_ca_is_refused_and_logged(
    city: Platform, county: Platform
) -> None:
    peered(city, county)
    rogue_key = _key()
    rogue_ca = _certificate(
        x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "冒名 CA")]),
        rogue_key,
        None,
        rogue_key,
        ca=True,
    )
    key = _key()
    cert = _certificate(pki.platform_subject("信州区", COUNTY), key, rogue_ca, rogue_key)
    with pytest.raises(OSError):
        _post_as(_credentials(cert, key), city)
    assert _refusals(city.runtime) == ["untrusted_issuer"]
    assert _audits(city.runtime, "federation.message.received") == []


def test_an_expired_peer_certificate_is_refused_and_logged(
    city: Platform, county: Platform
) -> None:
    peered(city, county)
    ca_cert, ca_key = _county_ca(county)
    key = _key()
    expired = _certificate(
        pki.platform_subject(county.name, COUNTY),
        key,
        ca_cert,
        ca_key,
        not_before=timedelta(days=-400),
        not_after=timedelta(days=-1),
    )
    status, reply = _post_as(_credentials(expired, key), city)
    assert status == 403 and reply["error"]["code"] == "expired"
    assert "过期" in reply["error"]["message"]
    (logged,) = _messages(city.runtime)
    assert logged.outcome is Outcome.REFUSED and "过期" in (logged.error or "")
    assert _audits(city.runtime, "federation.message.received")[0]["reason"] == "expired"


def test_a_revoked_peer_certificate_is_refused_once_the_crl_says_so(
    city: Platform, county: Platform
) -> None:
    peered(city, county)
    with county.runtime.transaction() as db_session:
        own = federation.required_identity(db_session)
        pki.revoke_certificate(
            db_session,
            actor=county.actor,
            settings=county.runtime.settings,
            certificate_id=own.certificate_id,
            reason=RevocationReason.KEY_COMPROMISE,
        )
    # the city learns the county CA's new CRL on its next hello
    transport.greet(city.runtime, peer_id=_peer_id(city, COUNTY), actor=city.actor)
    with pytest.raises(transport.PeerUnavailable) as refused:
        transport.greet(county.runtime, peer_id=_peer_id(county, CITY), actor=county.actor)
    assert "吊销" in refused.value.message
    reasons = [d.get("reason") for d in _audits(city.runtime, "federation.message.received")]
    assert reasons[-1] == "revoked"


def test_a_replayed_or_tampered_message_is_refused(city: Platform, county: Platform) -> None:
    peered(city, county)
    with county.runtime.transaction() as db_session:
        creds = federation.credentials_of(db_session, county.runtime.settings)
    message_id = str(uuid.uuid4())
    assert _post_as(creds, city, message_id=message_id)[0] == 200
    status, reply = _post_as(creds, city, message_id=message_id)
    assert status == 403 and reply["error"]["code"] == "duplicate"
    raw = envelope.canonical(
        envelope.build(
            message_id=str(uuid.uuid4()),
            kind="hello",
            sender=COUNTY,
            recipient=CITY,
            sent_at=clock.now(),
            body={},
        )
    )
    forged = envelope.sign(creds.key, raw + b" ")
    status, _, _, _ = transport._post(
        city.url, transport.client_context(creds, city.anchor()), raw, forged, 10
    )
    assert status == 403
    codes = [d.get("reason") for d in _audits(city.runtime, "federation.message.received")]
    assert "bad_signature" in codes


def test_a_suspended_peering_refuses_messages(city: Platform, county: Platform) -> None:
    peered(city, county)
    with city.runtime.transaction() as db_session:
        federation.set_peer_state(
            db_session,
            actor=city.actor,
            peer_id=_peer_id(city, COUNTY),
            state=PeerState.SUSPENDED,
            reason="证书泄露排查",
        )
    with pytest.raises(transport.PeerUnavailable):
        transport.greet(county.runtime, peer_id=_peer_id(county, CITY), actor=county.actor)
    # the suspended peer's anchor is no longer in the city's TLS context
    assert _refusals(city.runtime)

"""Certificate tables (证书管理, SEC-1, BZ§26): the platform's certificate authority and the
X.509 client certificates it issues to registered department systems."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.systems.models import InformationSystem


class RevocationReason(StrEnum):
    """Why a certificate was revoked (吊销原因), the RFC 5280 reasons a department names."""

    KEY_COMPROMISE = "key_compromise"
    SUPERSEDED = "superseded"
    CESSATION = "cessation_of_operation"
    AFFILIATION_CHANGED = "affiliation_changed"
    UNSPECIFIED = "unspecified"

    @property
    def label(self) -> str:
        return REASON_LABELS[self]


REASON_LABELS = {
    RevocationReason.KEY_COMPROMISE: "私钥泄露或疑似泄露",
    RevocationReason.SUPERSEDED: "已由新证书替代",
    RevocationReason.CESSATION: "系统停用",
    RevocationReason.AFFILIATION_CHANGED: "系统所属单位变更",
    RevocationReason.UNSPECIFIED: "其他原因",
}


class HandOver(StrEnum):
    """How a key generated here is handed over (私钥交付格式), once."""

    PEM = "pem"  # the key and the certificate, PEM, unencrypted
    PKCS12 = "pkcs12"  # a .p12 file with the CA's certificate, under a one-time password

    @property
    def label(self) -> str:
        return {"pem": "PEM 文本（私钥和证书）", "pkcs12": "PKCS#12 文件（.p12，一次性口令保护）"}[
            self.value
        ]


class CertificateAuthority(Base):
    """The platform's certificate authority (证书签发机构): created here or the city's,
    imported. Its private key is sealed at rest like connection passwords."""

    __tablename__ = "pki_authority"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    certificate_pem: Mapped[str] = mapped_column(Text)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    crl_number: Mapped[int] = mapped_column(Integer, default=0)
    crl_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    crl_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))


class SystemCertificate(Base):
    """A client certificate of a registered system (系统数字证书)."""

    __tablename__ = "pki_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("pki_authority.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("information_system.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # hex
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    subject: Mapped[str] = mapped_column(String(255))
    certificate_pem: Mapped[str] = mapped_column(Text)
    key_generated: Mapped[bool] = mapped_column(Boolean)  # generated here and handed over once
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    renewed_from_id: Mapped[int | None] = mapped_column(ForeignKey("pki_certificate.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[RevocationReason | None] = mapped_column(
        str_enum(RevocationReason, 32)
    )
    revocation_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))

    system: Mapped[InformationSystem] = relationship(lazy="joined")

"""Certificates for department systems: inputs and outputs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from govshare.core.inputs import Id
from govshare.pki.models import HandOver, RevocationReason

PEM_MAX = 20_000


class AuthorityIn(BaseModel):
    """Creating the platform's CA (建立证书签发机构)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=64)  # the CA's common name


class AuthorityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    subject: str
    imported: bool
    not_after: datetime
    crl_number: int
    crl_updated_at: datetime | None
    certificate_pem: str


class CertificateIn(BaseModel):
    """A certificate for a registered system: from its CSR (PEM), or, without one, with a
    key generated here and handed over once."""

    model_config = ConfigDict(str_strip_whitespace=True)

    system_id: Id
    csr: str | None = Field(default=None, max_length=PEM_MAX)
    # without a CSR: the key handed over as PEM text or as a PKCS#12 file (.p12)
    hand_over: HandOver = HandOver.PEM


class RevokeIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    reason: RevocationReason
    note: str = Field(default="", max_length=500)


class CertificateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    system_id: int
    organization_id: int
    serial: str
    fingerprint: str
    subject: str
    key_generated: bool
    not_before: datetime
    not_after: datetime
    renewed_from_id: int | None
    revoked_at: datetime | None
    revocation_reason: RevocationReason | None
    certificate_pem: str


class IssuedOut(CertificateOut):
    """A new certificate; when the platform generated the key, `bundle` (the key and the
    certificate, PEM) or `pkcs12` (a .p12 file, base64) with its one-time `pkcs12_password`:
    returned this once, never stored."""

    bundle: str | None = None
    pkcs12: str | None = None
    pkcs12_password: str | None = None

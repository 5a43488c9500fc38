"""The demo's certificate authority: the platform's CA and one certificate for the social
assistance system, valid for the profile's days, shown on /pki with the public CRL."""

from __future__ import annotations

from cryptography import x509
from sqlalchemy import select

from govshare.core import clock
from govshare.demo import pki as pki_demo
from govshare.pki import service as pki_service
from govshare.pki.models import CertificateAuthority, SystemCertificate
from tests.demo.conftest import City
from tests.demo.test_exchange import _client, _sign_in


def test_the_demo_city_has_a_ca_and_one_system_certificate(city: City) -> None:
    with city.session() as db:
        authority = db.execute(select(CertificateAuthority)).scalar_one()
        (cert,) = db.execute(select(SystemCertificate)).scalars()
        assert authority.subject == "CN=江州市政务数据共享平台 CA"
        assert cert.system.name == pki_demo.SYSTEM
        assert pki_service.status_of(cert) == "有效"
        assert (cert.not_after - clock.now()).days >= 364
        actor = pki_service.authenticate_certificate(db, certificate_pem=cert.certificate_pem)
        assert actor.organization_id == cert.system.organization_id
    with _client(city) as client:
        _sign_in(client, "operator")
        page = client.get("/pki")
        assert page.status_code == 200
        assert "江州市政务数据共享平台 CA" in page.text and pki_demo.SYSTEM in page.text
        crl = client.get("/pki/crl.pem")
        assert x509.load_pem_x509_crl(crl.content).extensions is not None

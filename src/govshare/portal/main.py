"""The portal application as uvicorn imports it (`govshare portal`), from GOVSHARE_PORTAL_*
settings alone."""

from govshare.portal.app import create_portal_app
from govshare.portal.settings import load_portal_settings

app = create_portal_app(load_portal_settings())

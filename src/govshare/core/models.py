"""Imports every table module so that `Base.metadata` is complete (Alembic, tests)."""

from govshare.catalog import models as catalog_models
from govshare.catalog import search_index as catalog_search_index
from govshare.core import stamp as stamp_models
from govshare.core.audit import models as audit_models
from govshare.core.calendar import models as calendar_models
from govshare.core.db import Base
from govshare.core.inbox import models as inbox_models
from govshare.core.scheduler import models as scheduler_models
from govshare.evaluation import models as evaluation_models
from govshare.exchange import models as exchange_models
from govshare.federation import catalog_models as federation_catalog_models
from govshare.federation import models as federation_models
from govshare.federation import request_models as federation_request_models
from govshare.identity import models as identity_models
from govshare.opendata import models as opendata_models
from govshare.pki import models as pki_models
from govshare.security import models as security_models
from govshare.sharing import models as sharing_models
from govshare.supervision import models as supervision_models
from govshare.systems import models as systems_models
from govshare.verification import comparison_models as verification_comparison_models
from govshare.verification import models as verification_models

__all__ = [
    "Base",
    "audit_models",
    "calendar_models",
    "catalog_models",
    "catalog_search_index",
    "evaluation_models",
    "exchange_models",
    "federation_catalog_models",
    "federation_models",
    "federation_request_models",
    "identity_models",
    "inbox_models",
    "opendata_models",
    "pki_models",
    "scheduler_models",
    "security_models",
    "sharing_models",
    "stamp_models",
    "supervision_models",
    "systems_models",
    "verification_comparison_models",
    "verification_models",
]

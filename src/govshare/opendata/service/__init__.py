"""The open-data services: releases (the open view, its secrecy review and confirmation) and
the public's applications for conditional open data. The release functions are re-exported,
as the pages and API call them from here."""

from govshare.opendata.service.releases import (
    PROVIDERS,
    Openable,
    Permitted,
    decide,
    define_view,
    describe,
    get_openable,
    get_release,
    list_releases,
    openable_resources,
    permitted,
    record_secrecy_review,
    submit,
    withdraw,
)

__all__ = [
    "PROVIDERS",
    "Openable",
    "Permitted",
    "decide",
    "define_view",
    "describe",
    "get_openable",
    "get_release",
    "list_releases",
    "openable_resources",
    "permitted",
    "record_secrecy_review",
    "submit",
    "withdraw",
]

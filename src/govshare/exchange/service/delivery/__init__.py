"""Delivery of table resources under the grant (EXC-5, EXC-6): online query, keyed lookup and
streamed batch download from the data resource center (数据资源中心).

Whatever leaves honours the consumer's grant: only the granted fields, only the rows its row
filter admits, with its masking applied inside the center's SQL (`scope.scoped_select`).
Every call passes `check_access` first (a suspended grant stops at once) and writes its own
audit entry with the grant, the filters as given (a lookup's key included: "who looked up
whom" is what the log is for) and the number of rows — never the values returned.

A refusal after the access check is *returned* (`Rejected`), not raised: raising would roll
back the request's transaction, and with it the access log entry and the refusal's own entry.

The consumer's filters (`?id_number=…`) are exact, typed comparisons on the ORIGINAL values,
so a lookup by an ID number works while the ID is masked in the output, and it is one query
on the primary key index. The grant's own row filter uses the text-form semantics of
`scope` (the same as the push to front-end databases). Filtering on a masked field is
allowed by equality only: prefix or range filters would reveal the hidden characters.

Downloads stream from a server-side cursor on a center connection of their own (the
request's transaction is committed before the body is sent): memory stays flat whatever
the size. The row count is known only at the end, so a second entry,
`exchange.data.download_done`, is written in a transaction of its own when the stream ends
— complete, failed or abandoned by the client.

The package: `statements` (the grant as SQL over the center, and the engine that reads it),
`calls` (the consumer's request, its parsing, the outcome types and the checks every path
shares), `query` (online query, keyed lookup) and `download` (streamed downloads).
"""

from govshare.exchange.service.delivery.calls import DataPage, DataRequest, Rejected
from govshare.exchange.service.delivery.download import Download, start_download, stream_download
from govshare.exchange.service.delivery.query import lookup, query
from govshare.exchange.service.delivery.statements import (
    DEFAULT_LIMIT,
    FORMATS,
    MAX_LIMIT,
    RESERVED,
    Field,
    Filter,
    Scope,
    grant_scope,
    masking_key,
    scoped_query,
)

__all__ = [
    "DEFAULT_LIMIT",
    "FORMATS",
    "MAX_LIMIT",
    "RESERVED",
    "DataPage",
    "DataRequest",
    "Download",
    "Field",
    "Filter",
    "Rejected",
    "Scope",
    "grant_scope",
    "lookup",
    "masking_key",
    "query",
    "scoped_query",
    "start_download",
    "stream_download",
]

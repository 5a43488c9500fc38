"""Generated demo data for the exchange: a population register (人口基础信息) and a company
registry (企业登记信息) of Shangrao, Jiangxi, and a bulk loader into PostgreSQL, MySQL/MariaDB
or SQLite.

Benchmarks move a million population rows, so every distribution is a lookup table built
once and indexed by raw random bits; a row costs a few microseconds. Rows are a pure
function of (seed, row index, as_of): any slice can be generated alone, and keys never
repeat across slices, because the key is a bijection of the row index.

The package: `population` and `companies` (the generators) and `loading` (`load_table`).
"""

from __future__ import annotations

from govshare.exchange.demo_data.companies import (
    ACTIVE_STATUSES,
    COMPANY_COLUMNS,
    company_capacity,
    company_rows,
    organisation_check_character,
)
from govshare.exchange.demo_data.loading import PORTABLE_TYPES, load_table
from govshare.exchange.demo_data.population import (
    AGE_REFERENCE_YEAR,
    CITY,
    COUNTIES,
    COUNTY_NAMES,
    POPULATION_COLUMNS,
    POPULATION_ITEMS,
    County,
    id_check_digit,
    population_capacity,
    population_rows,
    valid_id_number,
)

__all__ = [
    "ACTIVE_STATUSES",
    "AGE_REFERENCE_YEAR",
    "CITY",
    "COMPANY_COLUMNS",
    "COUNTIES",
    "COUNTY_NAMES",
    "POPULATION_COLUMNS",
    "POPULATION_ITEMS",
    "PORTABLE_TYPES",
    "County",
    "company_capacity",
    "company_rows",
    "id_check_digit",
    "load_table",
    "organisation_check_character",
    "population_capacity",
    "population_rows",
    "valid_id_number",
]

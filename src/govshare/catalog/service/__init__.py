"""Catalog services, split by topic: `resources` (compile, review, publish, version, retire),
`subscriptions`, `changes` (change deadlines), `themes`, `needs`, `projects`, `search`
(querying) and `indexing` (keeping the search index in line), `spreadsheet_export`
(Excel/CSV/JSON export) and `spreadsheet_import` (checking and importing the Excel template)."""

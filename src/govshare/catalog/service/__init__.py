"""Catalog services, split by topic: `resources` (compile, review, publish, version, retire),
`subscriptions`, `changes` (change deadlines), `themes`, `needs`, `projects`, `search`,
`spreadsheet` (Excel/JSON/CSV import and export)."""

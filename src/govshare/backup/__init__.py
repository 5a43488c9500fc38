"""Backups and restores (备份与恢复, SR§25 灾难恢复).

A backup is one directory, `govshare-backup-<city date>-<time>`, holding everything a city
needs to start again on new machines: the platform database, the data resource center, the
open portal's database, the local file store and the secret key file, each under a folder of
its own, with `manifest.json` (what each part is, its tables' row counts, every file's size and
SHA-256) and `SHA256SUMS` (the same checksums, `sha256sum -c` readable, and the manifest's).

- `archive.py` — the layout, the manifest, writing an archive and `verify` (standard library
  only, so checking a backup needs no database);
- `databases.py` — one database as a part: a snapshot held open while it is copied (SQLite's
  online backup API, PostgreSQL's `pg_dump` on an exported snapshot), its row counts, and the
  way back (a copied file, `pg_restore`);
- `create.py`, `restore.py` — the two operations, each audited;
- `jobs.py` — the daily backup into `GOVSHARE_BACKUP_DIR`, keeping the newest
  `GOVSHARE_BACKUP_KEEP`;
- `cli.py` — `govshare backup [--to DIR]`, `govshare backup verify PATH`, `govshare restore`.
"""

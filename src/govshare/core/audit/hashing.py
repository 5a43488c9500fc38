"""How an audit entry is hashed: the leaf (its content) and its place in the chain.

Entries chained before migration 0025 carry no `leaf_hash`; their `hash` is the digest of one
canonical JSON object holding the content, `seq` and `prev_hash`. Entries since carry the leaf
hash their writer computed at insert, and their `hash` is the digest of `seq:prev_hash:leaf`,
so the sequencer chains an entry without reading its content, and an entry changed between its
insert and its sequencing no longer matches the hash it was chained with."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from govshare.core import clock

GENESIS_HASH = "0" * 64
LEAF_TAG = "govshare.audit.leaf.1"
# An entry's content columns after its time, in the order its leaf preimage and the export take them.
CONTENT_COLUMNS = (
    "actor_label",
    "actor_user_id",
    "actor_organization_id",
    "actor_token_id",
    "source_ip",
    "action",
    "object_type",
    "object_id",
    "details",
)
_sha256 = hashlib.sha256


def digest(algorithm: str, payload: bytes) -> str:
    """Hex digest with SHA-256 or SM3 (GB/T 32905)."""
    if algorithm == "sha256":
        return _sha256(payload).hexdigest()
    if algorithm == "sm3":
        from cryptography.hazmat.primitives import hashes  # only deployments choosing SM3 pay

        h = hashes.Hash(hashes.SM3())
        h.update(payload)
        return h.finalize().hex()
    raise ValueError(f"unknown audit hash algorithm {algorithm!r}")


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def timestamp(moment: datetime) -> str:
    """The entry's time as hashed: UTC, microseconds, a trailing Z."""
    m = clock.as_utc(moment) if moment.tzinfo is not UTC else moment
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def _field(value: object) -> str:
    if value is None:
        return "-"
    text = str(value)
    return f"{len(text)}:{text}"


def leaf_of(
    algorithm: str,
    occurred_at: datetime,
    actor_label: str,
    actor_user_id: int | None,
    actor_organization_id: int | None,
    actor_token_id: int | None,
    source_ip: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    details: str,
) -> str:
    """The leaf hash: the digest of the entry's content (`leaf_preimage`)."""
    return digest(
        algorithm,
        leaf_preimage(
            timestamp(occurred_at),
            actor_label,
            actor_user_id,
            actor_organization_id,
            actor_token_id,
            source_ip,
            action,
            object_type,
            object_id,
            details,
        ).encode(),
    )


def leaf_preimage(*fields: object) -> str:
    """The content as hashed: the tag, then each field as `length:text` (`-` for NULL; the
    length in characters), comma-separated — a form the database can also build, so the
    verifier's walk reads one string per entry (`verify.leaf_sql`)."""
    return ",".join([LEAF_TAG, *map(_field, fields)])


def node_of(algorithm: str, seq: int, prev_hash: str, leaf: str) -> str:
    """The hash an entry carries at position `seq` after `prev_hash`."""
    return digest(algorithm, f"{seq}:{prev_hash}:{leaf}".encode())


def legacy_hash(entry: Any) -> str:
    """The hash of an entry chained before 0025 (no leaf hash)."""
    return legacy_hash_of(
        entry.algorithm,
        entry.seq,
        timestamp(entry.occurred_at),
        entry.actor_label,
        entry.actor_user_id,
        entry.actor_organization_id,
        entry.actor_token_id,
        entry.source_ip,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.details,
        entry.prev_hash,
    )


def legacy_hash_of(
    algorithm: str,
    seq: int,
    occurred_at: str,
    actor_label: str,
    actor_user_id: int | None,
    actor_organization_id: int | None,
    actor_token_id: int | None,
    source_ip: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    details: str,
    prev_hash: str,
) -> str:
    content = {
        "seq": seq,
        "occurred_at": occurred_at,
        "actor_label": actor_label,
        "actor_user_id": actor_user_id,
        "actor_organization_id": actor_organization_id,
        "actor_token_id": actor_token_id,
        "source_ip": source_ip,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return digest(algorithm, canonical_json(content).encode())


def content_leaf(entry: Any) -> str:
    """The leaf hash an entry's content gives now (an ORM entry or a row with its columns)."""
    return leaf_of(
        entry.algorithm,
        entry.occurred_at,
        entry.actor_label,
        entry.actor_user_id,
        entry.actor_organization_id,
        entry.actor_token_id,
        entry.source_ip,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.details,
    )


def entry_hash(entry: Any) -> str:
    """The hash an entry must carry, computed from its content, `seq` and `prev_hash`."""
    if entry.leaf_hash is None:
        return legacy_hash(entry)
    return node_of(entry.algorithm, entry.seq, entry.prev_hash, content_leaf(entry))

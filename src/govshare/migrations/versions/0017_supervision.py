"""supervision (supervision_finding, supervision_notice, supervision_notice_event,
supervision_evidence, supervision_probe): violations the platform finds itself, the
rectification notices they become and their circulation (通报) past the deadline, and the
availability probes of service interfaces and registered databases (SUP-2, SR§30)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-16 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "supervision_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("subject_label", sa.String(length=300), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("article", sa.String(length=100), nullable=False),
        sa.Column("regulation", sa.String(length=200), nullable=False),
        sa.Column("profile_code", sa.String(length=32), nullable=False),
        sa.Column("first_found_at", stamp, nullable=False),
        sa.Column("last_found_at", stamp, nullable=False),
        sa.Column("resolved_at", stamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["organization.id"],
            name=op.f("fk_supervision_finding_department_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_finding")),
    )
    op.create_index(op.f("ix_supervision_finding_kind"), "supervision_finding", ["kind"])
    op.create_index(
        op.f("ix_supervision_finding_department_id"), "supervision_finding", ["department_id"]
    )
    op.create_index(
        op.f("ix_supervision_finding_resolved_at"), "supervision_finding", ["resolved_at"]
    )
    op.create_index(
        "ux_supervision_finding_open_key",
        "supervision_finding",
        ["key"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_table(
        "supervision_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("issued_at", stamp, nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("issued_by", sa.String(length=120), nullable=False),
        sa.Column("profile_code", sa.String(length=32), nullable=False),
        sa.Column("rectify_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_at", stamp, nullable=True),
        sa.Column("answered_by", sa.String(length=120), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("decided_at", stamp, nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("closed_at", stamp, nullable=True),
        sa.Column("circular_number", sa.String(length=20), nullable=True),
        sa.Column("escalated_at", stamp, nullable=True),
        sa.Column("escalated_on", sa.Date(), nullable=True),
        sa.Column("circular_issuer", sa.String(length=200), nullable=False),
        sa.Column("circular_title", sa.String(length=300), nullable=False),
        sa.Column("circular_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["supervision_finding.id"],
            name=op.f("fk_supervision_notice_finding_id_supervision_finding"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["organization.id"],
            name=op.f("fk_supervision_notice_department_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_notice")),
        sa.UniqueConstraint("number", name=op.f("uq_supervision_notice_number")),
        sa.UniqueConstraint("finding_id", name=op.f("uq_supervision_notice_finding_id")),
        sa.UniqueConstraint("circular_number", name=op.f("uq_supervision_notice_circular_number")),
    )
    op.create_index(
        op.f("ix_supervision_notice_department_id"), "supervision_notice", ["department_id"]
    )
    op.create_index(op.f("ix_supervision_notice_state"), "supervision_notice", ["state"])
    op.create_index(op.f("ix_supervision_notice_due_on"), "supervision_notice", ["due_on"])
    op.create_index(
        op.f("ix_supervision_notice_escalated_at"), "supervision_notice", ["escalated_at"]
    )
    op.create_table(
        "supervision_notice_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("at", stamp, nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["supervision_notice.id"],
            name=op.f("fk_supervision_notice_event_notice_id_supervision_notice"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_notice_event")),
    )
    op.create_index(
        op.f("ix_supervision_notice_event_notice_id"), "supervision_notice_event", ["notice_id"]
    )
    op.create_table(
        "supervision_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", stamp, nullable=False),
        sa.Column("uploaded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["supervision_notice.id"],
            name=op.f("fk_supervision_evidence_notice_id_supervision_notice"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_supervision_evidence_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_evidence")),
    )
    op.create_index(
        op.f("ix_supervision_evidence_notice_id"), "supervision_evidence", ["notice_id"]
    )
    op.create_table(
        "supervision_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("probed_at", stamp, nullable=False),
        sa.Column("probed_on", sa.Date(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("millis", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["organization.id"],
            name=op.f("fk_supervision_probe_department_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_probe")),
    )
    op.create_index(
        op.f("ix_supervision_probe_department_id"), "supervision_probe", ["department_id"]
    )
    op.create_index(
        "ix_supervision_probe_target_on",
        "supervision_probe",
        ["target", "target_id", "probed_on"],
    )


def downgrade() -> None:
    op.drop_table("supervision_probe")
    op.drop_table("supervision_evidence")
    op.drop_table("supervision_notice_event")
    op.drop_table("supervision_notice")
    op.drop_table("supervision_finding")

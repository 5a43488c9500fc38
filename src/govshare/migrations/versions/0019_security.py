"""security (security_incident and its departments, resources, entries and reports;
security_exercise, security_check, security_check_finding, security_document): the incident
register with its reports to the cyber-security office and the authority, the yearly security
test and emergency drill, and inspections, risk assessments and secrecy checks whose findings
become rectification notices (SEC-5, SEC-7, SR§25)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "security_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("conducted_by", sa.String(length=100), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("conclusion", sa.Text(), nullable=False),
        sa.Column("recorded_at", stamp, nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_check")),
        sa.UniqueConstraint("number", name=op.f("uq_security_check_number")),
    )
    op.create_index(op.f("ix_security_check_kind"), "security_check", ["kind"])
    op.create_table(
        "security_exercise",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("conducted_on", sa.Date(), nullable=True),
        sa.Column("conducted_by", sa.String(length=100), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("result_at", stamp, nullable=True),
        sa.Column("result_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_exercise")),
    )
    op.create_index(op.f("ix_security_exercise_year"), "security_exercise", ["year"])
    op.create_table(
        "security_incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", stamp, nullable=False),
        sa.Column("discovered_at", stamp, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("profile_code", sa.String(length=32), nullable=False),
        sa.Column("registered_at", stamp, nullable=False),
        sa.Column("registered_by", sa.String(length=120), nullable=False),
        sa.Column("conclusion", sa.Text(), nullable=False),
        sa.Column("closed_at", stamp, nullable=True),
        sa.Column("closed_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_incident")),
        sa.UniqueConstraint("number", name=op.f("uq_security_incident_number")),
    )
    op.create_index(op.f("ix_security_incident_level"), "security_incident", ["level"])
    op.create_index(op.f("ix_security_incident_state"), "security_incident", ["state"])
    op.create_table(
        "security_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exercise_id", sa.Integer(), nullable=True),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", stamp, nullable=False),
        sa.Column("uploaded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["security_check.id"],
            name=op.f("fk_security_document_check_id_security_check"),
        ),
        sa.ForeignKeyConstraint(
            ["exercise_id"],
            ["security_exercise.id"],
            name=op.f("fk_security_document_exercise_id_security_exercise"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_document")),
    )
    op.create_index(op.f("ix_security_document_check_id"), "security_document", ["check_id"])
    op.create_index(op.f("ix_security_document_exercise_id"), "security_document", ["exercise_id"])
    op.create_table(
        "security_incident_department",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["security_incident.id"],
            name=op.f("fk_security_incident_department_incident_id_security_incident"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_security_incident_department_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint(
            "incident_id", "organization_id", name=op.f("pk_security_incident_department")
        ),
    )
    op.create_index(
        op.f("ix_security_incident_department_organization_id"),
        "security_incident_department",
        ["organization_id"],
    )
    op.create_table(
        "security_incident_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", stamp, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_at", stamp, nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["security_incident.id"],
            name=op.f("fk_security_incident_entry_incident_id_security_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_incident_entry")),
    )
    op.create_index(
        op.f("ix_security_incident_entry_incident_id"), "security_incident_entry", ["incident_id"]
    )
    op.create_table(
        "security_incident_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("due_at", stamp, nullable=False),
        sa.Column("reported_at", stamp, nullable=True),
        sa.Column("reported_by", sa.String(length=120), nullable=True),
        sa.Column("addressee", sa.String(length=100), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["security_incident.id"],
            name=op.f("fk_security_incident_report_incident_id_security_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_incident_report")),
        sa.UniqueConstraint(
            "incident_id",
            "recipient",
            name=op.f("uq_security_incident_report_incident_id_recipient"),
        ),
    )
    op.create_index(
        op.f("ix_security_incident_report_due_at"), "security_incident_report", ["due_at"]
    )
    op.create_table(
        "security_check_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=False),
        sa.Column("supervision_finding_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", stamp, nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["security_check.id"],
            name=op.f("fk_security_check_finding_check_id_security_check"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["organization.id"],
            name=op.f("fk_security_check_finding_department_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["supervision_finding_id"],
            ["supervision_finding.id"],
            name=op.f("fk_security_check_finding_supervision_finding_id_supervision_finding"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_check_finding")),
        sa.UniqueConstraint(
            "supervision_finding_id", name=op.f("uq_security_check_finding_supervision_finding_id")
        ),
    )
    op.create_index(
        op.f("ix_security_check_finding_check_id"), "security_check_finding", ["check_id"]
    )
    op.create_index(
        op.f("ix_security_check_finding_department_id"), "security_check_finding", ["department_id"]
    )
    op.create_table(
        "security_incident_resource",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["security_incident.id"],
            name=op.f("fk_security_incident_resource_incident_id_security_incident"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_security_incident_resource_resource_id_catalog_resource"),
        ),
        sa.PrimaryKeyConstraint(
            "incident_id", "resource_id", name=op.f("pk_security_incident_resource")
        ),
    )


def downgrade() -> None:
    op.drop_table("security_incident_resource")
    op.drop_index(
        op.f("ix_security_check_finding_department_id"), table_name="security_check_finding"
    )
    op.drop_index(op.f("ix_security_check_finding_check_id"), table_name="security_check_finding")
    op.drop_table("security_check_finding")
    op.drop_index(op.f("ix_security_incident_report_due_at"), table_name="security_incident_report")
    op.drop_table("security_incident_report")
    op.drop_index(
        op.f("ix_security_incident_entry_incident_id"), table_name="security_incident_entry"
    )
    op.drop_table("security_incident_entry")
    op.drop_index(
        op.f("ix_security_incident_department_organization_id"),
        table_name="security_incident_department",
    )
    op.drop_table("security_incident_department")
    op.drop_index(op.f("ix_security_document_exercise_id"), table_name="security_document")
    op.drop_index(op.f("ix_security_document_check_id"), table_name="security_document")
    op.drop_table("security_document")
    op.drop_index(op.f("ix_security_incident_state"), table_name="security_incident")
    op.drop_index(op.f("ix_security_incident_level"), table_name="security_incident")
    op.drop_table("security_incident")
    op.drop_index(op.f("ix_security_exercise_year"), table_name="security_exercise")
    op.drop_table("security_exercise")
    op.drop_index(op.f("ix_security_check_kind"), table_name="security_check")
    op.drop_table("security_check")

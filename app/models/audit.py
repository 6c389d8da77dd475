"""HIPAA audit trail (45 CFR 164.312(b)): append-only, hash-chained."""
from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Text

from .base import Model, UTCDateTime


GENESIS_HASH = "0" * 64

# Database triggers that refuse UPDATE, DELETE (and TRUNCATE) on audit_event.
APPEND_ONLY_DDL = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'audit trail is append-only'; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
           FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
        """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
           FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
    ],
    "sqlite": [
        """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
           BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
        """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
           BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
    ],
}
DROP_APPEND_ONLY_DDL = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event",
        "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
        "DROP FUNCTION IF EXISTS audit_append_only()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete"],
}


class AuditEvent(Model):
    """One meaningful access or change. Never updated or deleted (database triggers refuse it)."""

    __tablename__ = "audit_event"
    # No foreign keys: rows outlive users and patients and are never rewritten by a merge.
    __table_args__ = (
        Index("ix_audit_event_patient", "patient_id", "occurred_at"),
        Index("ix_audit_event_user", "user_id", "occurred_at"),
        Index("ix_audit_event_occurred", "occurred_at"),
        {"info": {"merge": "keep"}},
    )

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq = Column(BigInteger, nullable=False, unique=True)
    occurred_at = Column(UTCDateTime, nullable=False)
    user_id = Column(Integer)
    username = Column(String(128))
    action = Column(String(32), nullable=False)
    object_type = Column(String(64))
    object_id = Column(String(64))
    patient_id = Column(Integer)
    details = Column(Text)  # canonical JSON: changed fields (old -> new), reasons, counts
    flagged = Column(Boolean, nullable=False, default=False)  # break-glass: for review
    ip = Column(String(45))
    path = Column(String(300))  # never the query string
    prev_hash = Column(String(64), nullable=False)
    hash = Column(String(64), nullable=False)


class AuditChain(Model):
    """The chain head: one row, locked by every writer so sequence numbers never fork."""

    __tablename__ = "audit_chain"

    id = Column(Integer, primary_key=True)
    seq = Column(BigInteger, nullable=False, default=0)
    head_hash = Column(String(64), nullable=False)


class Disclosure(Model):
    """Accounting of disclosures (45 CFR 164.528): what left the clinic about a patient."""

    __tablename__ = "disclosure"
    __table_args__ = (Index("ix_disclosure_patient", "patient_id", "disclosed_on"), {"info": {"merge": "keep"}})

    id = Column(Integer, primary_key=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    disclosed_on = Column(UTCDateTime, nullable=False)
    recipient = Column(String(200), nullable=False)
    recipient_address = Column(String(400))
    description = Column(Text, nullable=False)
    purpose = Column(String(400), nullable=False)
    recorded_by_id = Column(Integer)
    recorded_by = Column(String(128))
    created_on = Column(UTCDateTime, nullable=False)

    __audit_patient__ = "patient_id"

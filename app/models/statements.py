"""Statement history: one row per patient statement printed (from the chart or in a batch run).

Written by app/services/statements.py in the transaction that takes the statement's number, so
every number printed on a letter has exactly one row and a statement that failed leaves neither.
The row keeps what the letter told the guarantor (amount due and its aging, to whom, in which
language): the account moves on afterwards, so these figures are never recomputed. Who printed
it and when decides which accounts the batch run skips (a statement in the last N days).
"""
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import relationship

from .base import AuditMixin, Model, UTCDateTime

MONEY = Numeric(10, 2)
# The aging summary printed on the statement, in the order of app.services.aging.BUCKETS.
AGING_COLUMNS = {
    "current": "aged_current",
    "days_31_60": "aged_31_60",
    "days_61_90": "aged_61_90",
    "days_91_120": "aged_91_120",
    "days_121_plus": "aged_121_plus",
}


class PatientStatement(AuditMixin, Model):
    """A statement as printed: its number (counter "statement"), the account it is for, the reader."""

    __tablename__ = "patient_statement"
    __table_args__ = (
        Index("ix_patient_statement_patient", "patient_id", "printed_at"),  # the chart's history, the N-days rule
        Index("ix_patient_statement_printed_at", "printed_at"),
        Index("ix_patient_statement_batch", "batch_number"),
        CheckConstraint("amount_due > 0", name="ck_patient_statement_amount_due"),  # nothing due: no statement
    )

    id = Column(Integer, primary_key=True)
    statement_number = Column(String(20), nullable=False, unique=True)  # as printed: S00000001
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)  # whose account
    addressee_name = Column(String(300), nullable=False)
    to_guarantor = Column(Boolean, nullable=False, default=False)  # else to the patient
    language = Column(String(10), nullable=False)  # the letter's language (after any fallback)
    amount_due = Column(MONEY, nullable=False)
    aged_current = Column(MONEY, nullable=False, default=0)
    aged_31_60 = Column(MONEY, nullable=False, default=0)
    aged_61_90 = Column(MONEY, nullable=False, default=0)
    aged_91_120 = Column(MONEY, nullable=False, default=0)
    aged_121_plus = Column(MONEY, nullable=False, default=0)
    printed_at = Column(UTCDateTime, nullable=False)
    printed_by_fk = Column(Integer, ForeignKey("ab_user.id"))  # none: printed by the system (CLI)
    batch_number = Column(Integer)  # the batch run it was printed in (counter "statement_batch"); none: one at a time

    patient = relationship("Patient")
    printed_by = relationship("User", foreign_keys=[printed_by_fk], viewonly=True)

    __audit_patient__ = "patient_id"

    @property
    def aging(self):
        return {bucket: getattr(self, column) for bucket, column in AGING_COLUMNS.items()}

    def __str__(self):
        return self.statement_number

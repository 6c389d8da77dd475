"""Files received from payers: 835 remittances, 999 and 277CA acknowledgements, stored as received.

The content names patients (PHI): it is never logged, shown only on the review screens (which
audit the patients shown) and never put in an audit event. The same file (same SHA-256) is
refused the second time. Everything here is written by app/services/payer_files.py.
"""
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from .base import Model, UTCDateTime

PAYER_FILE_KINDS = ("835", "999", "277CA")
PAYER_FILE_STATUSES = ("received", "posted", "applied", "failed")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PayerFile(Model):
    __tablename__ = "payer_file"
    __table_args__ = (
        Index("ix_payer_file_received", "received_at"),  # the list, newest first
        Index("ix_payer_file_status", "status", "received_at"),
        Index("ix_payer_file_batch", "batch_id"),
        CheckConstraint(_in("kind", PAYER_FILE_KINDS), name="ck_payer_file_kind"),
        CheckConstraint(_in("status", PAYER_FILE_STATUSES), name="ck_payer_file_status"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(5), nullable=False)
    file_name = Column(String(255), nullable=False)
    sha256 = Column(String(64), nullable=False, unique=True)  # the same file is received once
    content = Column(Text, nullable=False)  # the file as received: PHI, never logged
    received_at = Column(UTCDateTime, nullable=False)
    received_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    status = Column(String(10), nullable=False, default="received")
    batch_id = Column(Integer, ForeignKey("claim_batch.id"))  # the 837P batch a 999 / 277CA answers
    processed_at = Column(UTCDateTime)  # posted / applied, or the last refused attempt
    processed_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    note = Column(String(1000))  # what posting / applying did, or why it was refused (no patient data)
    version = Column(Integer, nullable=False)

    received_by = relationship("User", foreign_keys=[received_by_fk], viewonly=True)
    processed_by = relationship("User", foreign_keys=[processed_by_fk], viewonly=True)
    batch = relationship("ClaimBatch")

    __mapper_args__ = {"version_id_col": version}

    def __str__(self):
        return self.file_name

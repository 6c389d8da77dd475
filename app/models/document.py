"""Documents filed to the patient chart: scans, faxes, photos of cards (the file lives on disk)."""
from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import relationship

from .base import AuditMixin, Model, UTCDateTime

KINDS = ("referral", "result", "id_card", "insurance_card", "consent_form", "other")
# Kinds only staff holding can_read_clinical on PatientDocument may open (minimum necessary).
CLINICAL_KINDS = ("result",)
STATUSES = ("active", "withdrawn")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PatientDocument(AuditMixin, Model):
    """One uploaded file. Never deleted: "filed in error" withdraws it with a reason and the file stays."""

    __tablename__ = "patient_document"

    id = Column(Integer, primary_key=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    kind = Column(String(20), nullable=False)
    document_date = Column(Date, nullable=False)  # the date on the document, not the upload date
    source = Column(String(200))  # free text: "fax from Springfield Cardiology"
    title = Column(String(200), nullable=False)
    original_filename = Column(String(255))  # sanitized, for display only; never a path
    # Generated relative path under UPLOAD_FOLDER, "yyyy/mm/<uuid4 hex>"; nothing of the user's name.
    stored_name = Column(String(64), nullable=False, unique=True)
    content_type = Column(String(64), nullable=False)  # sniffed from the bytes
    size_bytes = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    status = Column(String(10), nullable=False, default="active")
    withdrawn_reason = Column(String(500))
    withdrawn_on = Column(UTCDateTime)
    withdrawn_by_fk = Column(Integer, ForeignKey("ab_user.id"))

    patient = relationship("Patient")
    withdrawn_by = relationship("User", foreign_keys=[withdrawn_by_fk])

    __audit_patient__ = "patient_id"  # every create and change lands in the audit trail
    __table_args__ = (
        Index("ix_patient_document_patient", "patient_id", "status", "document_date"),
        CheckConstraint(_in("kind", KINDS), name="ck_patient_document_kind"),
        CheckConstraint(_in("status", STATUSES), name="ck_patient_document_status"),
        CheckConstraint("status <> 'withdrawn' OR withdrawn_reason IS NOT NULL", name="ck_patient_document_withdrawn_reason"),
        CheckConstraint("size_bytes > 0", name="ck_patient_document_size"),
    )

    @property
    def is_clinical(self):
        return self.kind in CLINICAL_KINDS

    @property
    def is_active(self):
        return self.status == "active"

    def __str__(self):
        return f"{self.title} ({self.document_date})"

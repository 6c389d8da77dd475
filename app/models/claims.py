"""Claims: one claim per encounter and coverage, its diagnoses and lines (a snapshot of the
encounter's diagnoses and charge lines when the claim was built) and its status history.

The lifecycle and every rule live in app/services/claims.py; the database only guards the
vocabulary (statuses, frequency codes) and the optimistic lock.
"""
from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import object_session, relationship

from .base import AuditMixin, Model, UTCDateTime

MONEY = Numeric(10, 2)
CLAIM_STATUSES = ("draft", "ready", "submitted", "accepted", "rejected", "paid", "denied", "appealed", "void")
FREQUENCY_CODES = ("1", "7", "8")  # CLM05-3: original, replacement, void


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Claim(AuditMixin, Model):
    __tablename__ = "claim"
    __table_args__ = (
        Index("ix_claim_patient", "patient_id", "service_date"),
        Index("ix_claim_encounter", "encounter_id", "coverage_id"),
        Index("ix_claim_status", "status", "service_date"),  # the billing worklist
        Index("ix_claim_original", "original_claim_id"),
        CheckConstraint(_in("status", CLAIM_STATUSES), name="ck_claim_status"),
        CheckConstraint(_in("frequency_code", FREQUENCY_CODES), name="ck_claim_frequency"),
        CheckConstraint("(frequency_code = '1' AND original_claim_id IS NULL) OR "
                        "(frequency_code <> '1' AND original_claim_id IS NOT NULL)", name="ck_claim_original"),
        CheckConstraint("total_charge >= 0", name="ck_claim_total"),
    )

    id = Column(Integer, primary_key=True)
    claim_number = Column(String(20), nullable=False, unique=True)  # CLM01, "C00000042"
    encounter_id = Column(Integer, ForeignKey("encounter.id"), nullable=False)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    coverage_id = Column(Integer, ForeignKey("coverage.id"), nullable=False)
    payer_id = Column(Integer, ForeignKey("payer.id"), nullable=False)
    service_date = Column(Date, nullable=False)  # the encounter's, kept for the duplicate check and lists
    frequency_code = Column(String(1), nullable=False, default="1")
    original_claim_id = Column(Integer, ForeignKey("claim.id"))  # the claim a 7 / 8 corrects
    payer_claim_control_number = Column(String(50))  # from the remittance (REF*F8 on a 7 / 8)
    prior_authorization = Column(String(50))  # REF*G1 / box 23
    status = Column(String(10), nullable=False, default="draft")
    total_charge = Column(MONEY, nullable=False, default=0)
    submitted_at = Column(UTCDateTime)
    version = Column(Integer, nullable=False)

    encounter = relationship("Encounter")
    patient = relationship("Patient")
    coverage = relationship("Coverage")
    payer = relationship("Payer")
    original_claim = relationship("Claim", remote_side=[id])
    diagnoses = relationship("ClaimDiagnosis", back_populates="claim", order_by="ClaimDiagnosis.position",
                             cascade="all, delete-orphan")
    lines = relationship("ClaimLine", back_populates="claim", order_by="ClaimLine.line_number",
                         cascade="all, delete-orphan")
    status_changes = relationship("ClaimStatusChange", back_populates="claim", order_by="ClaimStatusChange.id",
                                  cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "patient_id"

    def __str__(self):
        return self.claim_number


class ClaimDiagnosis(Model):
    """A diagnosis as billed: copied from the encounter's diagnoses when the claim (or its lines) was
    built, so a claim that was sent keeps the codes its line pointers meant."""

    __tablename__ = "claim_diagnosis"
    __table_args__ = (
        UniqueConstraint("claim_id", "position", name="uq_claim_diagnosis_position"),
        CheckConstraint("position BETWEEN 1 AND 12", name="ck_claim_diagnosis_position"),
        Index("ix_claim_diagnosis_claim", "claim_id"),
    )

    id = Column(Integer, primary_key=True)
    claim_id = Column(Integer, ForeignKey("claim.id"), nullable=False)
    position = Column(Integer, nullable=False)  # 1 = A on the CMS-1500 ... 12 = L
    code = Column(String(8), nullable=False)  # without the dot, as on the encounter
    code_set_id = Column(Integer, ForeignKey("icd10_code_set.id"), nullable=False)

    claim = relationship("Claim", back_populates="diagnoses")

    # Claim diagnoses are patient data: their changes go into the audit trail under the claim's patient.
    __audit_patient__ = "patient_id"

    @property
    def patient_id(self):
        claim = self.claim
        if claim is None and self.claim_id is not None and object_session(self) is not None:
            claim = object_session(self).get(Claim, self.claim_id)  # a diagnosis just taken off its claim
        return claim.patient_id if claim is not None else None


class ClaimLine(Model):
    """A service line as billed: copied from the encounter's charge line when the claim was built."""

    __tablename__ = "claim_line"
    __table_args__ = (
        UniqueConstraint("claim_id", "line_number", name="uq_claim_line_number"),
        Index("ix_claim_line_charge_line", "charge_line_id"),
    )

    id = Column(Integer, primary_key=True)
    claim_id = Column(Integer, ForeignKey("claim.id"), nullable=False)
    line_number = Column(Integer, nullable=False)
    charge_line_id = Column(Integer, ForeignKey("charge_line.id", ondelete="SET NULL"))
    code = Column(String(5), nullable=False)
    modifier1 = Column(String(2))
    modifier2 = Column(String(2))
    modifier3 = Column(String(2))
    modifier4 = Column(String(2))
    units = Column(Numeric(7, 2), nullable=False)
    charge = Column(MONEY, nullable=False)  # line total: units x fee
    service_date = Column(Date, nullable=False)
    place_of_service = Column(String(2), nullable=False)
    pointer1 = Column(Integer)  # diagnosis positions (1-12) on the claim (ClaimDiagnosis)
    pointer2 = Column(Integer)
    pointer3 = Column(Integer)
    pointer4 = Column(Integer)
    rendering_provider_id = Column(Integer, ForeignKey("provider.id"))

    claim = relationship("Claim", back_populates="lines")
    rendering_provider = relationship("Provider")

    # Claim lines are patient data: their changes go into the audit trail under the claim's patient.
    __audit_patient__ = "patient_id"

    @property
    def patient_id(self):
        claim = self.claim
        if claim is None and self.claim_id is not None and object_session(self) is not None:
            claim = object_session(self).get(Claim, self.claim_id)  # a line just taken off its claim
        return claim.patient_id if claim is not None else None

    @property
    def modifiers(self):
        return [m for m in (self.modifier1, self.modifier2, self.modifier3, self.modifier4) if m]

    @property
    def pointers(self):
        return [p for p in (self.pointer1, self.pointer2, self.pointer3, self.pointer4) if p]


class ClaimStatusChange(Model):
    """When a claim changed status, who changed it, and why."""

    __tablename__ = "claim_status_change"
    __table_args__ = (Index("ix_claim_status_change_claim", "claim_id"),)

    id = Column(Integer, primary_key=True)
    claim_id = Column(Integer, ForeignKey("claim.id"), nullable=False)
    from_status = Column(String(10))
    to_status = Column(String(10), nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)
    changed_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    note = Column(String(300))

    claim = relationship("Claim", back_populates="status_changes")


class ClaimBatchClaim(Model):
    """A claim sent in a batch: a claim rejected and resent is in two batches."""

    __tablename__ = "claim_batch_claim"
    __table_args__ = (Index("ix_claim_batch_claim_claim", "claim_id"),)

    batch_id = Column(Integer, ForeignKey("claim_batch.id"), primary_key=True)
    claim_id = Column(Integer, ForeignKey("claim.id"), primary_key=True)


class ClaimBatch(Model):
    """One 837P interchange as it was sent (ISA13 = GS06 from a counter), with the claims in it.

    The content names patients: it is shown only through the download screen, which audits every
    download."""

    __tablename__ = "claim_batch"
    __table_args__ = (
        Index("ix_claim_batch_interchange", "interchange_control_number"),
        Index("ix_claim_batch_group", "group_control_number"),
        Index("ix_claim_batch_created", "created_at"),
        CheckConstraint("claim_count > 0", name="ck_claim_batch_count"),
        CheckConstraint("total_charge >= 0", name="ck_claim_batch_total"),
    )

    id = Column(Integer, primary_key=True)
    interchange_control_number = Column(Integer, nullable=False)  # ISA13 / IEA02
    group_control_number = Column(Integer, nullable=False)  # GS06 / GE02
    created_at = Column(UTCDateTime, nullable=False)
    created_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    claim_count = Column(Integer, nullable=False)
    total_charge = Column(MONEY, nullable=False)
    content = Column(Text, nullable=False)  # the 837P as sent

    created_by = relationship("User", foreign_keys=[created_by_fk])
    claims = relationship("Claim", secondary="claim_batch_claim", order_by="Claim.claim_number", viewonly=True)

    def __str__(self):
        return f"{self.interchange_control_number:09d}"

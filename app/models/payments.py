"""Payments: what payers paid (a check or EFT and the claims it pays, line by line, with the
adjustments: CAS group + CARC reason) and what patients paid on their account.

Every row here is written by one service, app/services/posting.py; balances are computed there
(claim_balance, patient_account) from these rows, never stored. A reversal (CLP02 = 22) is a
posting with negative amounts: sums stay right without editing what was posted before.
"""
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import object_session, relationship

from .base import AuditMixin, Model, UTCDateTime
from .billing import PAYMENT_METHODS

MONEY = Numeric(10, 2)
PAYER_PAYMENT_METHODS = ("check", "eft", "none")  # BPR04 CHK / ACH / NON
PAYER_PAYMENT_SOURCES = ("manual", "835")
ADJUSTMENT_GROUPS = ("CO", "PR", "OA", "PI", "CR")  # CAS01
PATIENT_PAYMENT_METHODS = PAYMENT_METHODS  # a payment on account is paid the same ways as a copay


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _patient_via(row, relation, model, key):
    """The patient of `row` (for its audit trail) through its parent: the loaded relationship, else the
    parent read by its id (a row not flushed yet)."""
    parent = getattr(row, relation)
    if parent is None and getattr(row, key) is not None and object_session(row) is not None:
        parent = object_session(row).get(model, getattr(row, key))
    return parent.patient_id if parent is not None else None


class PayerPayment(AuditMixin, Model):
    """One check or EFT from a payer (835 BPR/TRN, or typed in from a paper EOB)."""

    __tablename__ = "payer_payment"
    __table_args__ = (
        UniqueConstraint("payer_id", "reference", name="uq_payer_payment_reference"),  # nothing posted twice
        Index("ix_payer_payment_paid_date", "paid_date"),
        CheckConstraint(_in("method", PAYER_PAYMENT_METHODS), name="ck_payer_payment_method"),
        CheckConstraint(_in("source", PAYER_PAYMENT_SOURCES), name="ck_payer_payment_source"),
    )

    id = Column(Integer, primary_key=True)
    payer_id = Column(Integer, ForeignKey("payer.id"), nullable=False)
    method = Column(String(10), nullable=False)
    reference = Column(String(50), nullable=False)  # TRN02: check number or EFT trace number
    paid_date = Column(Date, nullable=False)
    amount = Column(MONEY, nullable=False)  # BPR02
    source = Column(String(10), nullable=False, default="manual")
    file_name = Column(String(255))
    file_sha256 = Column(String(64), unique=True)  # the same 835 file is never posted twice
    posted_at = Column(UTCDateTime, nullable=False)
    posted_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    note = Column(String(300))

    payer = relationship("Payer")
    posted_by = relationship("User", foreign_keys=[posted_by_fk], viewonly=True)
    claims = relationship("ClaimPosting", back_populates="payer_payment", order_by="ClaimPosting.id",
                          cascade="all, delete-orphan")
    provider_adjustments = relationship("ProviderAdjustment", back_populates="payer_payment",
                                        order_by="ProviderAdjustment.id", cascade="all, delete-orphan")

    def __str__(self):
        return self.reference


class ProviderAdjustment(AuditMixin, Model):
    """A provider-level adjustment of a payment (835 PLB: interest L6, recoupment WO, forwarding balance FB ...):
    why the check differs from the sum of its claim payments. Positive amounts reduce the payment (as in X12)."""

    __tablename__ = "provider_adjustment"
    __table_args__ = (Index("ix_provider_adjustment_payment", "payer_payment_id"),)

    id = Column(Integer, primary_key=True)
    payer_payment_id = Column(Integer, ForeignKey("payer_payment.id"), nullable=False)
    reason_code = Column(String(2), nullable=False)  # PLB03-1
    reference = Column(String(50))  # PLB03-2: the claim, the recouped payment ...
    amount = Column(MONEY, nullable=False)  # PLB04: positive is taken from the payment
    fiscal_period_date = Column(Date)  # PLB02

    payer_payment = relationship("PayerPayment", back_populates="provider_adjustments")

    @property
    def description(self):
        from ..claims.codes import describe_provider_adjustment

        return describe_provider_adjustment(self.reason_code)


class ClaimPosting(AuditMixin, Model):
    """What a payer said of one claim in one payment (835 loop 2100: CLP, claim-level CAS, MOA)."""

    __tablename__ = "claim_posting"
    __table_args__ = (
        Index("ix_claim_posting_claim", "claim_id"),
        Index("ix_claim_posting_payment", "payer_payment_id"),
    )

    id = Column(Integer, primary_key=True)
    payer_payment_id = Column(Integer, ForeignKey("payer_payment.id"), nullable=False)
    claim_id = Column(Integer, ForeignKey("claim.id"), nullable=False)
    status_code = Column(String(2), nullable=False)  # CLP02: 1, 2, 3, 4, 22 ...
    charge = Column(MONEY, nullable=False)  # CLP03
    paid = Column(MONEY, nullable=False)  # CLP04
    patient_responsibility = Column(MONEY, nullable=False, default=0)  # CLP05
    payer_claim_control_number = Column(String(50))  # CLP07
    remarks = Column(String(200))  # claim-level RARC, comma-separated
    posted_at = Column(UTCDateTime, nullable=False)

    payer_payment = relationship("PayerPayment", back_populates="claims")
    claim = relationship("Claim")
    lines = relationship("LinePosting", back_populates="claim_posting", order_by="LinePosting.id",
                         cascade="all, delete-orphan")
    adjustments = relationship("PostingAdjustment", back_populates="claim_posting", order_by="PostingAdjustment.id",
                               cascade="all, delete-orphan")

    __audit_patient__ = "patient_id"

    @property
    def patient_id(self):
        from .claims import Claim

        return _patient_via(self, "claim", Claim, "claim_id")

    @property
    def claim_adjustments(self):
        """The claim-level adjustments (not on a line)."""
        return [a for a in self.adjustments if a.line_posting is None and a.line_posting_id is None]


class LinePosting(Model):
    """What a payer paid on one service line (835 loop 2110: SVC, AMT*B6, LQ*HE)."""

    __tablename__ = "line_posting"
    __table_args__ = (
        Index("ix_line_posting_claim_posting", "claim_posting_id"),
        Index("ix_line_posting_claim_line", "claim_line_id"),
    )

    id = Column(Integer, primary_key=True)
    claim_posting_id = Column(Integer, ForeignKey("claim_posting.id"), nullable=False)
    claim_line_id = Column(Integer, ForeignKey("claim_line.id"), nullable=False)
    paid = Column(MONEY, nullable=False)
    allowed = Column(MONEY)
    remarks = Column(String(200))  # RARC, comma-separated

    claim_posting = relationship("ClaimPosting", back_populates="lines")
    claim_line = relationship("ClaimLine")
    adjustments = relationship("PostingAdjustment", back_populates="line_posting", order_by="PostingAdjustment.id")

    __audit_patient__ = "patient_id"

    @property
    def patient_id(self):
        return _patient_via(self, "claim_posting", ClaimPosting, "claim_posting_id")


class PostingAdjustment(Model):
    """A CAS adjustment: group (CO contractual, PR patient responsibility, OA, PI, CR) + CARC reason."""

    __tablename__ = "posting_adjustment"
    __table_args__ = (
        Index("ix_posting_adjustment_claim_posting", "claim_posting_id"),
        Index("ix_posting_adjustment_line_posting", "line_posting_id"),
        CheckConstraint(_in("group_code", ADJUSTMENT_GROUPS), name="ck_posting_adjustment_group"),
    )

    id = Column(Integer, primary_key=True)
    claim_posting_id = Column(Integer, ForeignKey("claim_posting.id"), nullable=False)
    line_posting_id = Column(Integer, ForeignKey("line_posting.id"))  # null: claim level
    group_code = Column(String(2), nullable=False)
    reason_code = Column(String(5), nullable=False)  # CARC
    amount = Column(MONEY, nullable=False)  # negative on reversals
    quantity = Column(Numeric(7, 2))

    claim_posting = relationship("ClaimPosting", back_populates="adjustments")
    line_posting = relationship("LinePosting", back_populates="adjustments")

    __audit_patient__ = "patient_id"

    @property
    def patient_id(self):
        return _patient_via(self, "claim_posting", ClaimPosting, "claim_posting_id")


class PatientPayment(AuditMixin, Model):
    """Money a patient (or the guarantor, on the patient's account) paid on account. Never a card
    number: `reference` is a check number or the card terminal's approval code."""

    __tablename__ = "patient_payment"
    __table_args__ = (
        Index("ix_patient_payment_patient", "patient_id", "received_at"),
        Index("ix_patient_payment_claim", "claim_id"),
        Index("ix_patient_payment_received", "received_at"),
        CheckConstraint("amount > 0", name="ck_patient_payment_amount"),
        CheckConstraint(_in("method", PATIENT_PAYMENT_METHODS), name="ck_patient_payment_method"),
    )

    id = Column(Integer, primary_key=True)
    receipt_number = Column(String(20), nullable=False, unique=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    claim_id = Column(Integer, ForeignKey("claim.id"))  # applied to that claim's patient balance
    amount = Column(MONEY, nullable=False)
    method = Column(String(10), nullable=False)
    reference = Column(String(40))
    received_at = Column(UTCDateTime, nullable=False)
    received_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    voided = Column(Boolean, nullable=False, default=False)
    void_reason = Column(String(300))

    patient = relationship("Patient")
    claim = relationship("Claim")
    received_by = relationship("User", foreign_keys=[received_by_fk], viewonly=True)

    __audit_patient__ = "patient_id"

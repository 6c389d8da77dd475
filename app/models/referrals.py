"""Referrals: the specialist directory, outgoing and incoming referrals with their diagnoses,
attached chart documents, status history and the specialist's replies.

Every rule lives in app/services/referrals.py; the database guards the vocabularies, the
ordering of dates and the optimistic lock.
"""
from sqlalchemy import (Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import object_session, relationship

from .base import AuditMixin, Model, UTCDateTime

DIRECTIONS = ("outgoing", "incoming")
URGENCIES = ("routine", "urgent", "stat")
# Outgoing: draft -> sent -> scheduled -> seen -> report_received -> closed (or cancelled).
# Incoming: received -> scheduled -> seen -> closed (or cancelled).
STATUSES = ("draft", "sent", "received", "scheduled", "seen", "report_received", "closed", "cancelled")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


specialist_payer = Table(
    "specialist_payer", Model.metadata,
    Column("specialist_id", Integer, ForeignKey("specialist.id"), primary_key=True),
    Column("payer_id", Integer, ForeignKey("payer.id"), primary_key=True),
)


class Specialist(AuditMixin, Model):
    """A doctor or service outside the clinic that patients are referred to."""

    __tablename__ = "specialist"
    __table_args__ = (Index("ix_specialist_name", "name"), Index("ix_specialist_specialty", "specialty"))

    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    specialty = Column(String(100), nullable=False)
    organisation = Column(String(200))
    npi = Column(String(10), unique=True)
    phone = Column(String(20))  # E.164
    fax = Column(String(20))  # E.164
    email = Column(String(254))
    address = Column(String(300))  # lines separated by newlines
    languages = Column(String(100))  # ISO 639 codes, comma-separated: "en,es"
    active = Column(Boolean, nullable=False, default=True)
    version = Column(Integer, nullable=False)

    payers = relationship("Payer", secondary=specialist_payer, order_by="Payer.name")

    __mapper_args__ = {"version_id_col": version}

    @property
    def language_codes(self):
        return [c for c in (self.languages or "").split(",") if c]

    @property
    def address_lines(self):
        return [line for line in (self.address or "").splitlines() if line.strip()]

    def __str__(self):
        return f"{self.name} ({self.specialty})"


class Referral(AuditMixin, Model):
    __tablename__ = "referral"
    __table_args__ = (
        Index("ix_referral_patient", "patient_id", "referral_date"),
        Index("ix_referral_status_due", "status", "due_date"),  # the overdue list
        Index("ix_referral_specialist", "specialist_id"),
        Index("ix_referral_appointment", "appointment_id"),
        CheckConstraint(_in("direction", DIRECTIONS), name="ck_referral_direction"),
        CheckConstraint(_in("urgency", URGENCIES), name="ck_referral_urgency"),
        CheckConstraint(_in("status", STATUSES), name="ck_referral_status"),
        CheckConstraint("due_date >= referral_date", name="ck_referral_due_date"),
        CheckConstraint("direction <> 'outgoing' OR specialist_id IS NOT NULL", name="ck_referral_outgoing"),
        CheckConstraint("direction <> 'incoming' OR referring_practice IS NOT NULL", name="ck_referral_incoming"),
    )

    id = Column(Integer, primary_key=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    direction = Column(String(8), nullable=False)
    status = Column(String(16), nullable=False)
    urgency = Column(String(8), nullable=False, default="routine")
    referral_date = Column(Date, nullable=False)  # written (outgoing) or received (incoming)
    due_date = Column(Date, nullable=False)  # to be scheduled by
    reason = Column(String(500), nullable=False)
    notes = Column(Text)
    # Outgoing: our provider refers to a specialist of the directory.
    referring_provider_id = Column(Integer, ForeignKey("provider.id"))
    specialist_id = Column(Integer, ForeignKey("specialist.id"))
    sent_at = Column(UTCDateTime)
    # Incoming: another practice refers to us; the appointment it leads to.
    referring_practice = Column(String(200))
    referring_provider_name = Column(String(200))
    appointment_id = Column(Integer, ForeignKey("appointment.id"))
    version = Column(Integer, nullable=False)

    patient = relationship("Patient")
    referring_provider = relationship("Provider")
    specialist = relationship("Specialist")
    appointment = relationship("Appointment")
    diagnoses = relationship("ReferralDiagnosis", back_populates="referral", order_by="ReferralDiagnosis.position",
                             cascade="all, delete-orphan")
    documents = relationship("ReferralDocument", back_populates="referral", order_by="ReferralDocument.id",
                             cascade="all, delete-orphan")
    status_changes = relationship("ReferralStatusChange", back_populates="referral",
                                  order_by="ReferralStatusChange.id", cascade="all, delete-orphan")
    replies = relationship("ReferralReply", back_populates="referral", order_by="ReferralReply.reply_date",
                           cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "patient_id"

    def __str__(self):
        return f"#{self.id}"


class _ViaReferral:
    """Child rows are patient data: their changes go into the audit trail under the referral's patient."""

    __audit_patient__ = "patient_id"

    @property
    def patient_id(self):
        referral = self.referral
        if referral is None and self.referral_id is not None and object_session(self) is not None:
            referral = object_session(self).get(Referral, self.referral_id)
        return referral.patient_id if referral is not None else None


class ReferralDiagnosis(_ViaReferral, Model):
    __tablename__ = "referral_diagnosis"
    __table_args__ = (
        UniqueConstraint("referral_id", "code", name="uq_referral_diagnosis_code"),
        CheckConstraint("position BETWEEN 1 AND 12", name="ck_referral_diagnosis_position"),
    )

    id = Column(Integer, primary_key=True)
    referral_id = Column(Integer, ForeignKey("referral.id"), nullable=False)
    position = Column(Integer, nullable=False)
    code = Column(String(8), nullable=False)  # without the dot
    code_set_id = Column(Integer, ForeignKey("icd10_code_set.id"), nullable=False)

    referral = relationship("Referral", back_populates="diagnoses")


class ReferralDocument(_ViaReferral, Model):
    """A document of the patient's chart sent with the referral."""

    __tablename__ = "referral_document"
    __table_args__ = (
        UniqueConstraint("referral_id", "document_id", name="uq_referral_document"),
        Index("ix_referral_document_document", "document_id"),
    )

    id = Column(Integer, primary_key=True)
    referral_id = Column(Integer, ForeignKey("referral.id"), nullable=False)
    document_id = Column(Integer, ForeignKey("patient_document.id"), nullable=False)

    referral = relationship("Referral", back_populates="documents")
    document = relationship("PatientDocument")


class ReferralStatusChange(_ViaReferral, Model):
    __tablename__ = "referral_status_change"
    __table_args__ = (Index("ix_referral_status_change_referral", "referral_id"),)

    id = Column(Integer, primary_key=True)
    referral_id = Column(Integer, ForeignKey("referral.id"), nullable=False)
    from_status = Column(String(16))
    to_status = Column(String(16), nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)
    changed_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    note = Column(String(300))

    referral = relationship("Referral", back_populates="status_changes")
    changed_by = relationship("User")


class ReferralReply(_ViaReferral, AuditMixin, Model):
    """The specialist's consult report: when, what it says, and the document filed to the chart."""

    __tablename__ = "referral_reply"
    __table_args__ = (
        Index("ix_referral_reply_referral", "referral_id"),
        Index("ix_referral_reply_document", "document_id"),
    )

    id = Column(Integer, primary_key=True)
    referral_id = Column(Integer, ForeignKey("referral.id"), nullable=False)
    reply_date = Column(Date, nullable=False)
    summary = Column(String(2000), nullable=False)
    document_id = Column(Integer, ForeignKey("patient_document.id"))

    referral = relationship("Referral", back_populates="replies")
    document = relationship("PatientDocument")

"""Prior authorizations: a payer's permission, for one patient, to render some services (CPT/HCPCS
codes, or an appointment type) a number of units between two dates.

The rules (which authorization is valid, units used, alerts) live in app/services/authorizations.py;
the database guards the vocabulary, the dates' order, positive units and the optimistic lock.
`referral_id` names the referral that carries the authorization (table from migration 0017); it has
no foreign key so that this table does not depend on that one.
"""
from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import relationship

from .base import AuditMixin, Model

AUTHORIZATION_STATUSES = ("active", "void")


class PriorAuthorization(AuditMixin, Model):
    __tablename__ = "prior_authorization"
    __table_args__ = (
        Index("ix_prior_authorization_patient", "patient_id", "payer_id", "valid_from"),
        Index("ix_prior_authorization_alerts", "status", "valid_to"),  # the alert list, the home card
        Index("ix_prior_authorization_number", "payer_id", "number"),
        CheckConstraint("status IN ('active', 'void')", name="ck_prior_authorization_status"),
        CheckConstraint("valid_to >= valid_from", name="ck_prior_authorization_dates"),
        CheckConstraint("units_authorized IS NULL OR units_authorized > 0", name="ck_prior_authorization_units"),
    )

    id = Column(Integer, primary_key=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    coverage_id = Column(Integer, ForeignKey("coverage.id"))
    payer_id = Column(Integer, ForeignKey("payer.id"), nullable=False)
    number = Column(String(50), nullable=False)  # REF*G1 / CMS-1500 box 23
    appointment_type_id = Column(Integer, ForeignKey("appointment_type.id"))
    codes = Column(String(200))  # CPT/HCPCS, comma-separated; empty = any service
    units_authorized = Column(Numeric(7, 2))  # None = no limit
    valid_from = Column(Date, nullable=False)
    valid_to = Column(Date, nullable=False)
    status = Column(String(10), nullable=False, default="active")
    void_reason = Column(String(300))
    referral_id = Column(Integer)  # the referral carrying it (no foreign key: see the module's docstring)
    notes = Column(String(1000))
    version = Column(Integer, nullable=False)

    patient = relationship("Patient")
    coverage = relationship("Coverage")
    payer = relationship("Payer")
    appointment_type = relationship("AppointmentType")

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "patient_id"

    @property
    def code_list(self):
        return [c for c in (self.codes or "").split(",") if c]

    def __str__(self):
        return self.number

"""Insurance and charges: practice billing settings, payers, coverages, eligibility checks,
ICD-10-CM code sets, the fee schedule, encounters with diagnoses and charge lines, copays.

Everything a claim (837P / CMS-1500) needs lives here as data, none of it in code.
Two coverages of the same order never overlap in time: the service checks it and the
database refuses it (COVERAGE_OVERLAP_DDL, like the appointments' guard).
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
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from .base import AuditMixin, Model, UTCDateTime

MONEY = Numeric(10, 2)


class BillingSettings(AuditMixin, Model):
    """The practice as a billing entity (one row, id 1): 837P loop 2010AA/AB, the envelopes,
    CMS-1500 boxes 25, 33 and 24J (rendering NPI comes from the provider)."""

    __tablename__ = "billing_settings"
    __table_args__ = (CheckConstraint("id = 1", name="ck_billing_settings_single"),)

    id = Column(Integer, primary_key=True, default=1)
    # Billing provider (2010AA, box 33)
    billing_name = Column(String(100))
    group_npi = Column(String(10))
    tax_id = Column(String(9))  # EIN, digits only (box 25)
    taxonomy_code = Column(String(10))  # PRV03
    address_line1 = Column(String(55))
    address_line2 = Column(String(55))
    city = Column(String(30))
    state = Column(String(2))
    postal_code = Column(String(9))  # ZIP+4 without the dash: 837P wants nine digits here
    phone = Column(String(20))
    # Pay-to address (2010AB), when payments go elsewhere
    pay_to_line1 = Column(String(55))
    pay_to_line2 = Column(String(55))
    pay_to_city = Column(String(30))
    pay_to_state = Column(String(2))
    pay_to_postal_code = Column(String(9))
    # Clearinghouse: submitter (1000A) and receiver (1000B), interchange (ISA) ids
    submitter_id = Column(String(80))
    submitter_name = Column(String(60))
    submitter_contact_name = Column(String(60))
    submitter_contact_phone = Column(String(20))
    submitter_contact_email = Column(String(80))
    receiver_id = Column(String(80))
    receiver_name = Column(String(60))
    isa_sender_qualifier = Column(String(2), default="ZZ")
    isa_sender_id = Column(String(15))
    isa_receiver_qualifier = Column(String(2), default="ZZ")
    isa_receiver_id = Column(String(15))
    usage_indicator = Column(String(1), nullable=False, default="T")  # ISA15: T test, P production
    gs02_sender_code = Column(String(15))  # GS02 application sender's code (empty: the interchange sender id)
    gs03_receiver_code = Column(String(15))  # GS03 application receiver's code (empty: the interchange receiver id)
    version = Column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class ServiceFacility(AuditMixin, Model):
    """Where services are rendered (2310C, box 32), usually one per clinic location."""

    __tablename__ = "service_facility"

    id = Column(Integer, primary_key=True)
    name = Column(String(60), nullable=False, unique=True)
    npi = Column(String(10))
    address_line1 = Column(String(55), nullable=False)
    address_line2 = Column(String(55))
    city = Column(String(30), nullable=False)
    state = Column(String(2), nullable=False)
    postal_code = Column(String(9), nullable=False)
    place_of_service = Column(String(2), nullable=False, default="11")  # 11 office, 02 telehealth ...
    location_id = Column(Integer, ForeignKey("location.id"))
    active = Column(Boolean, nullable=False, default=True)

    location = relationship("Location")

    def __str__(self):
        return self.name


# Claim filing indicator codes (SBR09) a payer can have.
CLAIM_FILING_INDICATORS = ("CI", "BL", "HM", "MA", "MB", "MC", "CH", "VA", "WC", "OF", "11", "12", "13", "14",
                           "15", "16", "17", "AM", "DS", "LM", "TV", "ZZ")

# The appointment types that need a prior authorization with a payer.
appointment_type_payer_auth = Table(
    "appointment_type_payer_auth", Model.metadata,
    Column("type_id", Integer, ForeignKey("appointment_type.id"), primary_key=True),
    Column("payer_id", Integer, ForeignKey("payer.id"), primary_key=True),
)


class Payer(AuditMixin, Model):
    __tablename__ = "payer"

    id = Column(Integer, primary_key=True)
    name = Column(String(60), nullable=False)
    payer_code = Column(String(80), nullable=False, unique=True)  # the clearinghouse's payer id (NM109)
    address_line1 = Column(String(55))
    address_line2 = Column(String(55))
    city = Column(String(30))
    state = Column(String(2))
    postal_code = Column(String(9))
    phone = Column(String(20))
    claim_filing_indicator = Column(String(2), nullable=False, default="CI")
    timely_filing_days = Column(Integer, nullable=False, default=90)
    active = Column(Boolean, nullable=False, default=True)

    auth_types = relationship("AppointmentType", secondary=appointment_type_payer_auth, order_by="AppointmentType.name",
                              backref="auth_payers")

    def __str__(self):
        return self.name


SUBSCRIBER_RELATIONSHIPS = ("self", "spouse", "child", "other")  # X12 18, 01, 19, G8
COVERAGE_PRIORITIES = (1, 2, 3)  # primary, secondary, tertiary

_COVERAGE_ACTIVE = "status = 'active'"
COVERAGE_OVERLAP_MESSAGE = "coverage overlaps another of the same order"


def _coverage_trigger(event):
    other = "AND c.id <> NEW.id" if event == "UPDATE" else ""
    return (f"CREATE TRIGGER coverage_no_overlap_{event.lower()} BEFORE {event} ON coverage "
            f"WHEN NEW.status = 'active' BEGIN SELECT RAISE(ABORT, '{COVERAGE_OVERLAP_MESSAGE}') WHERE EXISTS ("
            f"SELECT 1 FROM coverage c WHERE c.patient_id = NEW.patient_id AND c.priority = NEW.priority {other} "
            f"AND c.status = 'active' AND c.effective_date <= COALESCE(NEW.end_date, '9999-12-31') "
            f"AND NEW.effective_date <= COALESCE(c.end_date, '9999-12-31')); END")


COVERAGE_OVERLAP_DDL = {
    "postgresql": ["CREATE EXTENSION IF NOT EXISTS btree_gist",
                   f"""ALTER TABLE coverage ADD CONSTRAINT ex_coverage_overlap EXCLUDE USING gist
                       (patient_id WITH =, priority WITH =, daterange(effective_date, end_date, '[]') WITH &&)
                       WHERE ({_COVERAGE_ACTIVE})"""],
    "sqlite": [_coverage_trigger("INSERT"), _coverage_trigger("UPDATE")],
}
DROP_COVERAGE_OVERLAP_DDL = {
    "postgresql": ["ALTER TABLE coverage DROP CONSTRAINT IF EXISTS ex_coverage_overlap"],
    "sqlite": ["DROP TRIGGER IF EXISTS coverage_no_overlap_insert", "DROP TRIGGER IF EXISTS coverage_no_overlap_update"],
}


class Coverage(AuditMixin, Model):
    """A patient's insurance (or self-pay: no payer, the guarantor is billed), in order of priority."""

    __tablename__ = "coverage"
    __table_args__ = (
        Index("ix_coverage_patient", "patient_id", "priority"),
        Index("ix_coverage_subscriber_patient", "subscriber_patient_id"),  # a merge moves it
        CheckConstraint("priority IN (1, 2, 3)", name="ck_coverage_priority"),
        CheckConstraint("status IN ('active', 'voided')", name="ck_coverage_status"),
        CheckConstraint("end_date IS NULL OR end_date >= effective_date", name="ck_coverage_dates"),
        CheckConstraint("(self_pay AND payer_id IS NULL) OR (NOT self_pay AND payer_id IS NOT NULL)",
                        name="ck_coverage_payer"),
        CheckConstraint("subscriber_relationship IN ('self', 'spouse', 'child', 'other')",
                        name="ck_coverage_relationship"),
        CheckConstraint("copay IS NULL OR copay >= 0", name="ck_coverage_copay"),
    )

    id = Column(Integer, primary_key=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    priority = Column(Integer, nullable=False, default=1)
    self_pay = Column(Boolean, nullable=False, default=False)
    payer_id = Column(Integer, ForeignKey("payer.id"))
    plan_name = Column(String(60))
    member_id = Column(String(80))  # masked in lists
    group_number = Column(String(50))
    effective_date = Column(Date, nullable=False)
    end_date = Column(Date)
    copay = Column(MONEY)
    # The subscriber: the patient ("self"), another patient, or a person described here.
    subscriber_relationship = Column(String(10), nullable=False, default="self")
    subscriber_patient_id = Column(Integer, ForeignKey("patient.id"))
    subscriber_family_name = Column(String(60))
    subscriber_given_name = Column(String(35))
    subscriber_birth_date = Column(Date)
    subscriber_sex = Column(String(10))
    status = Column(String(10), nullable=False, default="active")  # voided: entered in error
    void_reason = Column(String(300))
    version = Column(Integer, nullable=False)

    patient = relationship("Patient", foreign_keys=[patient_id])
    subscriber_patient = relationship("Patient", foreign_keys=[subscriber_patient_id])
    payer = relationship("Payer")
    eligibility_checks = relationship("EligibilityCheck", back_populates="coverage",
                                      order_by="EligibilityCheck.checked_at.desc()")

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "patient_id"


ELIGIBILITY_RESULTS = ("active", "inactive", "unknown", "error")


class EligibilityCheck(Model):
    """One verification of a coverage for a date of service: by phone, portal, or an X12 270/271."""

    __tablename__ = "eligibility_check"
    __table_args__ = (
        Index("ix_eligibility_check_coverage", "coverage_id", "service_date"),
        Index("ix_eligibility_check_patient", "patient_id", "service_date"),
        Index("ix_eligibility_check_trace", "trace_number"),
        CheckConstraint("result IN ('active', 'inactive', 'unknown', 'error', 'pending')", name="ck_eligibility_result"),
        CheckConstraint("method IN ('phone', 'portal', 'x12')", name="ck_eligibility_method"),
    )

    id = Column(Integer, primary_key=True)
    coverage_id = Column(Integer, ForeignKey("coverage.id"), nullable=False)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    appointment_id = Column(Integer, ForeignKey("appointment.id"))
    service_date = Column(Date, nullable=False)
    method = Column(String(10), nullable=False)
    result = Column(String(10), nullable=False)  # pending: a 270 went out, no 271 yet
    copay = Column(MONEY)
    deductible_remaining = Column(MONEY)
    out_of_pocket_remaining = Column(MONEY)
    notes = Column(String(1000))
    reference = Column(String(80))  # call reference / portal confirmation number
    trace_number = Column(String(50))  # TRN02 of the 270, matched by the 271
    checked_at = Column(UTCDateTime, nullable=False)
    checked_by_fk = Column(Integer, ForeignKey("ab_user.id"))

    coverage = relationship("Coverage", back_populates="eligibility_checks")
    appointment = relationship("Appointment")

    __audit_patient__ = "patient_id"


class Icd10CodeSet(Model):
    """One release of ICD-10-CM, in force from `effective_from` until the next one."""

    __tablename__ = "icd10_code_set"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    effective_from = Column(Date, nullable=False, unique=True)
    source = Column(String(200))
    code_count = Column(Integer, nullable=False, default=0)
    loaded_at = Column(UTCDateTime, nullable=False)


class Icd10Code(Model):
    __tablename__ = "icd10_code"
    __table_args__ = (
        UniqueConstraint("code_set_id", "code", name="uq_icd10_code_set_code"),
        Index("ix_icd10_code_code", "code"),
    )

    id = Column(Integer, primary_key=True)
    code_set_id = Column(Integer, ForeignKey("icd10_code_set.id"), nullable=False)
    code = Column(String(8), nullable=False)  # without the dot: E119 (shown E11.9)
    description = Column(String(300), nullable=False)
    billable = Column(Boolean, nullable=False)


class Icd10Term(Model):
    """Folded words of each code's description, for a fast word search (prefix range on the index)."""

    __tablename__ = "icd10_term"
    __table_args__ = (Index("ix_icd10_term", "code_set_id", "term", "code_id"),)

    id = Column(Integer, primary_key=True)
    code_set_id = Column(Integer, ForeignKey("icd10_code_set.id"), nullable=False)
    term = Column(String(60), nullable=False)
    code_id = Column(Integer, ForeignKey("icd10_code.id"), nullable=False)


class FeeScheduleEntry(AuditMixin, Model):
    """The practice's fee for a CPT/HCPCS code (with a modifier or none) from a date on."""

    __tablename__ = "fee_schedule_entry"
    __table_args__ = (
        UniqueConstraint("code", "modifier", "effective_date", name="uq_fee_schedule_code_modifier_date"),
        CheckConstraint("fee >= 0", name="ck_fee_schedule_fee"),
    )

    id = Column(Integer, primary_key=True)
    code = Column(String(5), nullable=False)
    modifier = Column(String(2), nullable=False, default="")  # "" = no modifier
    fee = Column(MONEY, nullable=False)
    effective_date = Column(Date, nullable=False)


ENCOUNTER_STATUSES = ("open", "ready", "billed")


class Encounter(AuditMixin, Model):
    """What was done at one appointment: its diagnoses and charge lines, ready for a claim."""

    __tablename__ = "encounter"
    __table_args__ = (
        Index("ix_encounter_patient", "patient_id", "service_date"),
        Index("ix_encounter_provider", "provider_id", "service_date"),
        Index("ix_encounter_status", "status", "service_date"),  # the billing worklist, the home card
        CheckConstraint("status IN ('open', 'ready', 'billed')", name="ck_encounter_status"),
    )

    id = Column(Integer, primary_key=True)
    appointment_id = Column(Integer, ForeignKey("appointment.id"), unique=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    provider_id = Column(Integer, ForeignKey("provider.id"), nullable=False)  # rendering provider
    service_facility_id = Column(Integer, ForeignKey("service_facility.id"))
    service_date = Column(Date, nullable=False)
    place_of_service = Column(String(2), nullable=False, default="11")
    status = Column(String(10), nullable=False, default="open")
    version = Column(Integer, nullable=False)

    patient = relationship("Patient")
    provider = relationship("Provider")
    appointment = relationship("Appointment")
    service_facility = relationship("ServiceFacility")
    diagnoses = relationship("EncounterDiagnosis", back_populates="encounter", order_by="EncounterDiagnosis.position",
                             cascade="all, delete-orphan")
    charges = relationship("ChargeLine", back_populates="encounter", order_by="ChargeLine.line_number",
                           cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "patient_id"


class EncounterDiagnosis(Model):
    __tablename__ = "encounter_diagnosis"
    __table_args__ = (
        UniqueConstraint("encounter_id", "position", name="uq_encounter_diagnosis_position"),
        UniqueConstraint("encounter_id", "code", name="uq_encounter_diagnosis_code"),
        CheckConstraint("position BETWEEN 1 AND 12", name="ck_encounter_diagnosis_position"),
    )

    id = Column(Integer, primary_key=True)
    encounter_id = Column(Integer, ForeignKey("encounter.id"), nullable=False)
    position = Column(Integer, nullable=False)  # 1 = A on the CMS-1500 ... 12 = L
    code = Column(String(8), nullable=False)
    code_set_id = Column(Integer, ForeignKey("icd10_code_set.id"), nullable=False)

    encounter = relationship("Encounter", back_populates="diagnoses")

    # Diagnoses are patient data: their changes go into the audit trail under the encounter's patient.
    __audit_patient__ = "patient_id"

    @property
    def patient_id(self):
        return self.encounter.patient_id if self.encounter is not None else None


class ChargeLine(AuditMixin, Model):
    __tablename__ = "charge_line"
    __table_args__ = (
        UniqueConstraint("encounter_id", "line_number", name="uq_charge_line_number"),
        CheckConstraint("units > 0", name="ck_charge_line_units"),
        CheckConstraint("fee >= 0", name="ck_charge_line_fee"),
        CheckConstraint("code_kind IN ('CPT', 'HCPCS')", name="ck_charge_line_kind"),
    )

    id = Column(Integer, primary_key=True)
    encounter_id = Column(Integer, ForeignKey("encounter.id"), nullable=False)
    line_number = Column(Integer, nullable=False)
    code = Column(String(5), nullable=False)
    code_kind = Column(String(5), nullable=False)
    modifier1 = Column(String(2))
    modifier2 = Column(String(2))
    modifier3 = Column(String(2))
    modifier4 = Column(String(2))
    units = Column(Numeric(7, 2), nullable=False, default=1)
    fee = Column(MONEY, nullable=False)  # per unit, from the fee schedule unless changed
    place_of_service = Column(String(2), nullable=False)
    rendering_provider_id = Column(Integer, ForeignKey("provider.id"), nullable=False)
    pointer1 = Column(Integer, nullable=False)  # diagnosis positions (1-12) this line is for
    pointer2 = Column(Integer)
    pointer3 = Column(Integer)
    pointer4 = Column(Integer)

    encounter = relationship("Encounter", back_populates="charges")
    rendering_provider = relationship("Provider")

    @property
    def modifiers(self):
        return [m for m in (self.modifier1, self.modifier2, self.modifier3, self.modifier4) if m]

    @property
    def pointers(self):
        return [p for p in (self.pointer1, self.pointer2, self.pointer3, self.pointer4) if p]


PAYMENT_METHODS = ("cash", "card", "check", "other")


class CopayPayment(AuditMixin, Model):
    """Money taken at the desk. Never a card number: `reference` is a check number or the
    card terminal's approval code."""

    __tablename__ = "copay_payment"
    __table_args__ = (
        Index("ix_copay_payment_patient", "patient_id", "received_at"),
        CheckConstraint("amount > 0", name="ck_copay_payment_amount"),
        CheckConstraint("method IN ('cash', 'card', 'check', 'other')", name="ck_copay_payment_method"),
    )

    id = Column(Integer, primary_key=True)
    receipt_number = Column(String(20), nullable=False, unique=True)
    patient_id = Column(Integer, ForeignKey("patient.id"), nullable=False)
    appointment_id = Column(Integer, ForeignKey("appointment.id"))
    amount = Column(MONEY, nullable=False)
    method = Column(String(10), nullable=False)
    reference = Column(String(40))
    received_at = Column(UTCDateTime, nullable=False)
    received_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    voided = Column(Boolean, nullable=False, default=False)
    void_reason = Column(String(300))
    notes = Column(Text)

    patient = relationship("Patient")
    appointment = relationship("Appointment")

    __audit_patient__ = "patient_id"

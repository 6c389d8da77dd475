"""The patient aggregate: demographics, contacts, consents, and search keys."""
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import relationship
from sqlalchemy.sql.expression import false as sa_false

from .base import AuditMixin, BinaryString, Model, UTCDateTime, only_on

SEXES = ("female", "male", "other", "unknown")
GENDER_IDENTITIES = (
    "female",
    "male",
    "nonbinary",
    "transgender_female",
    "transgender_male",
    "other",
    "declined",
)
STATUSES = ("active", "inactive", "deceased", "merged")
GUARANTOR_RELATIONSHIPS = ("self", "parent", "spouse", "guardian", "other")


class Patient(AuditMixin, Model):
    __tablename__ = "patient"

    id = Column(Integer, primary_key=True)
    mrn = Column(String(12), nullable=False, unique=True)

    family_name = Column(String(100), nullable=False)
    given_name = Column(String(100), nullable=False)
    middle_name = Column(String(100))
    preferred_name = Column(String(100))
    birth_date = Column(Date, nullable=False, index=True)
    sex = Column(String(10), nullable=False, default="unknown")
    gender_identity = Column(String(24))

    address_line1 = Column(String(200))
    address_line2 = Column(String(200))
    city = Column(String(100))
    state = Column(String(100))
    postal_code = Column(String(20))
    country = Column(String(2))  # ISO 3166-1 alpha-2

    phone_home = Column(String(20))  # E.164
    phone_mobile = Column(String(20))
    phone_work = Column(String(20))
    email = Column(String(254))

    preferred_language = Column(String(3), nullable=False, default="en")  # ISO 639-1, else 639-3
    interpreter_needed = Column(Boolean, nullable=False, default=False)

    hipaa_notice_ack_date = Column(Date)
    consent_voicemail = Column(Boolean, nullable=False, default=False)
    consent_sms = Column(Boolean, nullable=False, default=False)
    consent_email = Column(Boolean, nullable=False, default=False)

    emergency_contact_name = Column(String(200))
    emergency_contact_relationship = Column(String(50))
    emergency_contact_phone = Column(String(20))

    guardian_name = Column(String(200))
    guardian_relationship = Column(String(50))
    guardian_phone = Column(String(20))

    # The person financially responsible: the patient ("self"), another registered
    # patient, or a person described here.
    guarantor_relationship = Column(String(10), nullable=False, default="self")
    guarantor_patient_id = Column(Integer, ForeignKey("patient.id"), index=True)
    guarantor_name = Column(String(200))
    guarantor_phone = Column(String(20))
    guarantor_address = Column(String(400))
    guarantor_language = Column(String(3))

    primary_provider_id = Column(Integer, ForeignKey("provider.id"), index=True)

    status = Column(String(10), nullable=False, default="active")
    deceased_date = Column(Date)
    merged_into_id = Column(Integer, ForeignKey("patient.id"), index=True)
    merged_on = Column(UTCDateTime)
    notes = Column(Text)
    # Confidential record (a staff member, a public figure, a protected person): every
    # opening needs a break-glass reason, except by the patient's own primary provider.
    restricted = Column(Boolean, nullable=False, default=False, server_default=sa_false())
    # Social Security number, optional: only the Fernet token (app/services/ssn.py) and the
    # last four digits for display; never the plaintext.
    ssn_encrypted = Column(Text)
    ssn_last4 = Column(String(4))

    # Folded "family given middle preferred" for duplicate checks and fuzzy search.
    name_search = Column(String(420), nullable=False, default="")

    version = Column(Integer, nullable=False)

    primary_provider = relationship("Provider")
    guarantor_patient = relationship("Patient", foreign_keys=[guarantor_patient_id], remote_side=[id])
    merged_into = relationship("Patient", foreign_keys=[merged_into_id], remote_side=[id])
    search_terms = relationship(
        "PatientSearchTerm", cascade="all, delete-orphan", passive_deletes=True, back_populates="patient"
    )

    __mapper_args__ = {"version_id_col": version}
    __audit_patient__ = "id"  # every change is recorded in the audit trail
    __audit_skip__ = ("name_search",)  # derived
    __audit_secret__ = ("ssn_encrypted", "ssn_last4")  # the trail says the SSN changed, never to what
    __table_args__ = (
        # Typo-tolerant name search on PostgreSQL (pg_trgm); SQLite has no such index.
        only_on("postgresql", Index("ix_patient_name_trgm", "name_search", postgresql_using="gin",
                                    postgresql_ops={"name_search": "gin_trgm_ops"})),
        # Home-page counts of recent registrations and the duplicate probe (reports, home cards).
        Index("ix_patient_created_on", "created_on"),
        Index("ix_patient_birth_name", "birth_date", "name_search"),
        CheckConstraint("status IN ('active','inactive','deceased','merged')", name="ck_patient_status"),
        CheckConstraint("sex IN ('female','male','other','unknown')", name="ck_patient_sex"),
        CheckConstraint("status <> 'merged' OR merged_into_id IS NOT NULL", name="ck_patient_merged_link"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="ck_patient_not_self_merged"),
    )

    @property
    def full_name(self):
        parts = [self.given_name, self.middle_name, self.family_name]
        return " ".join(p for p in parts if p)

    @property
    def display_name(self):
        """Family name first, as lists and wristbands print it."""
        name = f"{self.family_name}, {self.given_name}"
        if self.preferred_name:
            name += f" “{self.preferred_name}”"
        return name

    @property
    def ssn_masked(self):
        return f"***-**-{self.ssn_last4}" if self.ssn_last4 else ""

    @property
    def is_merged(self):
        return self.status == "merged"

    def __str__(self):
        return f"{self.display_name} ({self.mrn})"


class PatientSearchTerm(Model):
    """One folded name token or phone key per row; prefix search walks (term, patient_id)."""

    __tablename__ = "patient_search_term"
    # Derived from the patient row: a merge leaves these with the merged record.
    __table_args__ = (Index("ix_patient_search_term_term", "term", "patient_id"), {"info": {"merge": "keep"}})

    patient_id = Column(Integer, ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True)
    term = Column(BinaryString(64), primary_key=True)

    patient = relationship("Patient", back_populates="search_terms")

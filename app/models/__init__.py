"""All models, imported so that Model.metadata is complete (Alembic target)."""
from flask_appbuilder.security.sqla import models as fab_security_models  # noqa: F401

from .audit import AuditChain, AuditEvent, Disclosure  # noqa: F401
from .base import Model  # noqa: F401
from .billing import (  # noqa: F401
    BillingSettings,
    ChargeLine,
    CopayPayment,
    Coverage,
    EligibilityCheck,
    Encounter,
    EncounterDiagnosis,
    FeeScheduleEntry,
    Icd10Code,
    Icd10CodeSet,
    Icd10Term,
    Payer,
    ServiceFacility,
)
from .claims import Claim, ClaimLine, ClaimStatusChange  # noqa: F401
from .counter import Counter  # noqa: F401
from .document import PatientDocument  # noqa: F401
from .patient import Patient, PatientSearchTerm  # noqa: F401
from .provider import Provider  # noqa: F401
from .scheduling import (  # noqa: F401
    Appointment,
    AppointmentStatusChange,
    AppointmentType,
    Location,
    ProviderException,
    ProviderHours,
    ReminderOutbox,
    Room,
    WaitlistEntry,
)
from .user import ClinicUser  # noqa: F401

metadata = Model.metadata

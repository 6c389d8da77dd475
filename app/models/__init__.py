"""All models, imported so that Model.metadata is complete (Alembic target)."""
from flask_appbuilder.security.sqla import models as fab_security_models  # noqa: F401

from .audit import AuditChain, AuditEvent, Disclosure  # noqa: F401
from .authorizations import PriorAuthorization  # noqa: F401  prior authorizations
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
from .claims import Claim, ClaimBatch, ClaimBatchClaim, ClaimLine, ClaimStatusChange  # noqa: F401
from .counter import Counter  # noqa: F401
from .document import PatientDocument  # noqa: F401
from .inventory import InventoryItem, StockLocation, StockLot, StockMovement, Supplier  # noqa: F401
from .purchasing import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatusChange  # noqa: F401
from .patient import Patient, PatientSearchTerm  # noqa: F401
from .payments import (  # noqa: F401
    ClaimPosting,
    LinePosting,
    PatientPayment,
    PayerPayment,
    PostingAdjustment,
    ProviderAdjustment,
)
from .payer_files import PayerFile  # noqa: F401  835 / 999 / 277CA files
from .provider import Provider  # noqa: F401
from .referrals import (  # noqa: F401
    Referral,
    ReferralDiagnosis,
    ReferralDocument,
    ReferralReply,
    ReferralStatusChange,
    Specialist,
)
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
from .statements import PatientStatement  # noqa: F401  statement history
from .user import ClinicUser  # noqa: F401

metadata = Model.metadata

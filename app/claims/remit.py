"""What comes back from payers, as plain data: remittances (835 or typed in by billing staff) and
claim acknowledgements (999 / 277CA).

The readers (app/claims/x12_835.py, app/claims/x12_ack.py) turn files into these objects; the
manual payment form builds the same objects; one posting service (app/services/posting.py) and
one acknowledgement service (app/services/acknowledgements.py) write them to the database. So a
remittance typed in and one read from an 835 are posted by the same code, with the same checks.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from . import Adjustment  # group (CO, PR, OA, PI, CR) + CARC reason + amount (+ quantity)

# CLP02 claim status codes that matter to posting.
PROCESSED_PRIMARY, PROCESSED_SECONDARY, PROCESSED_TERTIARY, DENIED, REVERSAL = "1", "2", "3", "4", "22"


@dataclass
class ProviderAdjustment(Adjustment):
    """A provider-level adjustment (835 PLB): group "PLB", reason PLB03-1 (L6 interest, WO recoupment, FB ...),
    amount PLB04 (positive: taken from the payment), reference PLB03-2, fiscal period date PLB02."""
    reference: str | None = None
    fiscal_period_date: date | None = None

    @property
    def description(self):
        from .codes import describe_provider_adjustment

        return describe_provider_adjustment(self.reason)


@dataclass
class LinePayment:
    """One service line as the payer adjudicated it (835 loop 2110: SVC, DTM*472, CAS, LQ*HE)."""
    code: str  # SVC01-2 procedure code
    modifiers: list[str]
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    units: Decimal | None = None  # SVC05
    service_date: date | None = None
    line_number: int | None = None  # REF*6R line item control number when we sent one (our line number)
    allowed: Decimal | None = None  # AMT*B6
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)  # RARC (LQ*HE)


@dataclass
class ClaimPayment:
    """One claim in a remittance (835 loop 2100: CLP, CAS, NM1, MOA/MIA remarks)."""
    claim_number: str  # CLP01: our claim number, as we sent it in CLM01
    status_code: str  # CLP02
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal  # CLP05
    payer_claim_control_number: str | None  # CLP07
    adjustments: list[Adjustment] = field(default_factory=list)  # claim-level CAS
    remarks: list[str] = field(default_factory=list)  # claim-level RARC (MOA)
    lines: list[LinePayment] = field(default_factory=list)


@dataclass
class Remittance:
    """A payer's payment (check or EFT) and the claims it pays (835 BPR/TRN + loops 2100)."""
    payer_name: str
    payer_identifier: str | None  # N1*PR REF*2U / TRN03 — matched to Payer.payer_id
    method: str  # "check", "eft", "none" (BPR04 CHK / ACH / NON)
    reference: str  # TRN02: check or EFT trace number
    paid_date: date  # BPR16
    amount: Decimal  # BPR02 = sum of CLP04 minus provider-level adjustments
    claims: list[ClaimPayment] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)  # PLB (or plain Adjustments)
    source: str = "manual"  # "manual" or "835"
    file_name: str | None = None
    file_sha256: str | None = None  # the 835 file's hash: the same file is never posted twice


@dataclass
class ClaimAcknowledgement:
    """What a 999 or 277CA says of one claim (999: of the whole transaction set; 277CA: per claim)."""
    claim_number: str | None  # 277CA REF*1K / TRN02 of loop 2200D; None when a 999 speaks of a whole set
    accepted: bool
    reasons: list[str] = field(default_factory=list)  # readable: STC category/status codes with their meaning, 999 IK3/IK4 errors
    payer_claim_control_number: str | None = None  # 277CA REF*1K
    informational: bool = False  # 277CA A0/A1 only (forwarded / received): says neither accepted nor rejected


@dataclass
class Acknowledgement:
    kind: str  # "999" or "277CA"
    interchange_control_number: str | None  # ISA13 of the file we sent that it answers (999 AK1/AK2, 277CA TRN)
    group_control_number: str | None  # GS06 of the group it answers (999 AK102)
    accepted: bool  # 999 AK9*A/E; 277CA: every claim accepted
    partial: bool = False  # 999 AK9*P: some transaction sets accepted, some rejected
    claims: list[ClaimAcknowledgement] = field(default_factory=list)
    file_name: str | None = None
    file_sha256: str | None = None

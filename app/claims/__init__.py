"""Claims: what a claim says, as plain data, and the writers that print or send it.

`ClaimData` is built by app/services/claims.py from the database (claim_data()) and read by
the writers: app/claims/x12_837p.py (the batch 837P file) and app/claims/cms1500.py (the
CMS-1500 PDF). Writers never touch the database, so each can be tested on data alone.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass
class Address:
    line1: str
    city: str
    state: str
    postal_code: str  # 5 or 9 digits
    line2: str | None = None


@dataclass
class Party:
    """A person or an organisation: the billing provider, subscriber, patient, payer, facility."""
    name: str  # organisation name, or family name of a person
    given_name: str | None = None
    middle_name: str | None = None
    address: Address | None = None
    id_qualifier: str | None = None  # XX (NPI), MI (member id), PI (payer id) ...
    id: str | None = None
    birth_date: date | None = None
    sex: str | None = None  # M / F / U
    phone: str | None = None
    tax_id: str | None = None  # EIN, billing provider only
    taxonomy: str | None = None


@dataclass
class Adjustment:
    group: str  # CO, PR, OA, PI, CR
    reason: str  # CARC
    amount: Decimal
    quantity: Decimal | None = None


@dataclass
class LineAdjudication:
    """What another payer did with a line (837P loop 2430, on secondary claims)."""
    payer_id: str
    paid: Decimal
    code: str
    modifiers: list[str]
    units: Decimal
    paid_date: date
    adjustments: list[Adjustment] = field(default_factory=list)


@dataclass
class ClaimLine:
    number: int
    code: str  # CPT / HCPCS
    modifiers: list[str]
    units: Decimal
    charge: Decimal  # line total (units x fee)
    service_date: date
    place_of_service: str
    pointers: list[int]  # 1-based positions into ClaimData.diagnoses
    rendering: Party | None = None  # when different from the claim's rendering provider
    other_payer: list[LineAdjudication] = field(default_factory=list)


@dataclass
class OtherPayer:
    """The primary payer's adjudication carried on a secondary claim (2320/2330B)."""
    payer: Party
    subscriber: Party
    relationship: str  # X12 code: 18 self, 01 spouse, 19 child, G8 other
    claim_filing_indicator: str
    member_group: str | None
    paid: Decimal
    adjustments: list[Adjustment] = field(default_factory=list)  # claim-level
    payer_claim_control_number: str | None = None


@dataclass
class ClaimData:
    claim_number: str  # CLM01: our patient control number
    frequency: str  # CLM05-3: 1 original, 7 replacement, 8 void
    payer_claim_control_number: str | None  # REF*F8 for 7 / 8
    total_charge: Decimal  # CLM02 = sum of the lines
    place_of_service: str
    billing_provider: Party
    pay_to: Address | None
    subscriber: Party
    relationship: str  # patient to subscriber, X12 code (18 self, 01, 19, G8)
    patient: Party  # = subscriber when relationship is 18
    payer: Party
    claim_filing_indicator: str  # SBR09
    payer_responsibility: str  # SBR01: P primary, S secondary, T tertiary
    member_group: str | None  # SBR03 group number
    plan_name: str | None
    rendering_provider: Party | None
    service_facility: Party | None
    diagnoses: list[str]  # ICD-10-CM codes without the dot, in order (A..L)
    lines: list[ClaimLine]
    prior_authorization: str | None = None
    other_payers: list[OtherPayer] = field(default_factory=list)
    signature_date: date | None = None
    referring_provider: Party | None = None  # CMS-1500 box 17/17b, 837P loop 2310A

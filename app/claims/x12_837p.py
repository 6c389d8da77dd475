"""The batch 837P file (ASC X12 5010, implementation guide 005010X222A1).

write_837p() turns ClaimData objects into one interchange (ISA/GS/ST ... SE/GE/IEA) as text. It
never touches the database: the envelope (who sends, who receives) comes in as an `Envelope`,
built from BillingSettings by envelope_from_settings(). Delimiters: segment "~", element "*",
component ":", repetition "^". Money and quantities are X12 decimals without trailing zeros
("100", "100.5").
"""
import re
from dataclasses import dataclass
from decimal import Decimal

from . import Address, ClaimData, Party

SEGMENT = "~"
ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"
VERSION = "005010X222A1"
MAX_DIAGNOSES = 12
MAX_POINTERS = 4
CLAIMS_PER_TRANSACTION = 5000  # the guide's recommended ceiling of CLM segments per ST/SE


@dataclass
class Envelope:
    """Who sends the file and who receives it: ISA05-08, GS02/03, loops 1000A and 1000B."""

    sender_qualifier: str  # ISA05, e.g. ZZ
    sender_id: str  # ISA06
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08
    application_sender: str  # GS02
    application_receiver: str  # GS03
    submitter_name: str  # 1000A NM103
    submitter_id: str  # 1000A NM109
    submitter_contact_name: str | None
    submitter_contact_phone: str | None
    submitter_contact_email: str | None
    receiver_name: str  # 1000B NM103
    receiver_id_1000b: str  # 1000B NM109
    usage_indicator: str = "T"  # ISA15: T test, P production


def envelope_from_settings(settings):
    """The Envelope from the practice's BillingSettings row (GS02/GS03: their own codes when set, else the
    ISA sender/receiver ids)."""
    sender_id = (settings.isa_sender_id or settings.submitter_id or "").strip()
    receiver_id = (settings.isa_receiver_id or settings.receiver_id or "").strip()
    return Envelope(
        sender_qualifier=settings.isa_sender_qualifier or "ZZ", sender_id=sender_id,
        receiver_qualifier=settings.isa_receiver_qualifier or "ZZ", receiver_id=receiver_id,
        application_sender=(getattr(settings, "gs02_sender_code", None) or "").strip() or sender_id,
        application_receiver=(getattr(settings, "gs03_receiver_code", None) or "").strip() or receiver_id,
        submitter_name=settings.submitter_name or settings.billing_name or "",
        submitter_id=settings.submitter_id or sender_id,
        submitter_contact_name=settings.submitter_contact_name,
        submitter_contact_phone=settings.submitter_contact_phone or settings.phone,
        submitter_contact_email=settings.submitter_contact_email,
        receiver_name=settings.receiver_name or "", receiver_id_1000b=settings.receiver_id or receiver_id,
        usage_indicator=settings.usage_indicator or "T")


# --------------------------------------------------------------------------- formatting

_FORBIDDEN = re.compile(r"[*~:^\r\n]")


def _text(value, limit=None, upper=True):
    """Free text without our delimiters, single-spaced, upper case, cut to `limit` characters."""
    if value is None:
        return ""
    text = " ".join(_FORBIDDEN.sub(" ", str(value)).split())
    return (text.upper() if upper else text)[:limit]


def money(value):
    """X12 decimal: 100, 100.5, 100.25 (never 100.00 or 1E+2)."""
    if value is None:
        return ""
    d = Decimal(value).quantize(Decimal("0.01"))
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def quantity(value):
    d = Decimal(value)
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def _digits(value):
    return re.sub(r"\D", "", value or "")


def _d8(value):
    return value.strftime("%Y%m%d")


class _Segments:
    """The segments of one transaction set, joined with trailing empty elements trimmed."""

    def __init__(self):
        self.items = []

    def add(self, *elements):
        elements = [("" if e is None else str(e)) for e in elements]
        while len(elements) > 1 and elements[-1] == "":
            elements.pop()
        self.items.append(ELEMENT.join(elements))


def _person(party):
    return bool(party.given_name)


def _nm1(seg, entity, party, qualifier=None, ident=None):
    ident = _text(ident, 80)
    if _person(party):
        seg.add("NM1", entity, "1", _text(party.name, 60), _text(party.given_name, 35),
                _text(party.middle_name, 25), "", "", qualifier if ident else "", ident)
    else:
        seg.add("NM1", entity, "2", _text(party.name, 60), "", "", "", "", qualifier if ident else "", ident)


def _address(seg, address: Address | None):
    if address is None:
        return
    seg.add("N3", _text(address.line1, 55), _text(address.line2, 55))
    seg.add("N4", _text(address.city, 30), _text(address.state, 2), _digits(address.postal_code))


def _dmg(seg, party):
    if party.birth_date:
        seg.add("DMG", "D8", _d8(party.birth_date), (party.sex or "U").upper())


def _cas(seg, adjustments):
    """CAS segments: one per group code, up to six reason/amount/quantity triplets each."""
    by_group = {}
    for adj in adjustments:
        by_group.setdefault(adj.group, []).append(adj)
    for group, items in by_group.items():
        for start in range(0, len(items), 6):
            elements = ["CAS", group]
            for adj in items[start:start + 6]:
                elements += [adj.reason, money(adj.amount),
                             quantity(adj.quantity) if adj.quantity is not None else ""]
            seg.add(*elements)


def _procedure(code, modifiers):
    return COMPONENT.join(["HC", _text(code)] + [_text(m) for m in modifiers[:4]])


# --------------------------------------------------------------------------- checks

# Why a claim cannot be written, by key: the English sentence of each (ValueError); the service maps the
# keys to translated messages (app/services/claim_batches.py) and checks them before anything is written.
PROBLEM_TEXTS = {
    "claim_number": "Claim number {claim!r} must have 1 to 20 characters.",
    "too_many_lines": "Claim {claim} has more than 50 service lines.",
    "no_lines": "Claim {claim} has no service lines.",
    "no_diagnosis": "Claim {claim} has no diagnosis.",
    "too_many_diagnoses": "Claim {claim} has more than {max} diagnoses.",
    "total": "Claim {claim}: total {total} is not the sum of its lines ({lines}).",
    "control_number": "Claim {claim} replaces or voids a claim but has no payer claim control number.",
    "line_balance": "Claim {claim} line {line}: paid plus adjustments by {payer} is not the line charge.",
    "line_payer": "Claim {claim} line {line}: payer {payer} is not one of the claim's other payers.",
    "payer_paid": "Claim {claim}: the line payments of {payer} do not add up to what it paid on the claim.",
    "pointers": "Claim {claim} line {line} needs one to four diagnosis pointers.",
    "pointer_range": "Claim {claim} line {line} points to a diagnosis it does not have.",
}


def claim_issues(claim: ClaimData):
    """What keeps `claim` out of an 837P, as (key of PROBLEM_TEXTS, values) pairs (empty list = fine)."""
    number = claim.claim_number
    issues = []
    if not number or len(number) > 20:
        issues.append(("claim_number", {"claim": number}))
    if len(claim.lines) > 50:
        issues.append(("too_many_lines", {"claim": number}))
    if not claim.lines:
        issues.append(("no_lines", {"claim": number}))
    if not claim.diagnoses:
        issues.append(("no_diagnosis", {"claim": number}))
    if len(claim.diagnoses) > MAX_DIAGNOSES:
        issues.append(("too_many_diagnoses", {"claim": number, "max": MAX_DIAGNOSES}))
    total = sum((Decimal(line.charge) for line in claim.lines), Decimal(0))
    if Decimal(claim.total_charge) != total:
        issues.append(("total", {"claim": number, "total": claim.total_charge, "lines": total}))
    if claim.frequency in ("7", "8") and not claim.payer_claim_control_number:
        issues.append(("control_number", {"claim": number}))
    issues += _balance_issues(claim)
    for line in claim.lines:
        if not line.pointers or len(line.pointers) > MAX_POINTERS:
            issues.append(("pointers", {"claim": number, "line": line.number}))
        elif any(p < 1 or p > len(claim.diagnoses) for p in line.pointers):
            issues.append(("pointer_range", {"claim": number, "line": line.number}))
    return issues


def claim_problems(claim: ClaimData):
    """What keeps `claim` out of an 837P, as sentences (empty list = fine)."""
    return [PROBLEM_TEXTS[key].format(**values) for key, values in claim_issues(claim)]


def _balance_issues(claim: ClaimData):
    """Coordination of benefits must balance: each 2430 pays + adjusts its line's charge, SVD01
    names a 2330B payer, and a payer's line payments add up to its AMT*D."""
    issues = []
    number = claim.claim_number
    payer_ids = [other.payer.id for other in claim.other_payers]
    for line in claim.lines:
        for adjudication in line.other_payer:
            adjusted = sum((Decimal(a.amount) for a in adjudication.adjustments), Decimal(0))
            if Decimal(adjudication.paid) + adjusted != Decimal(line.charge):
                issues.append(("line_balance", {"claim": number, "line": line.number,
                                                "payer": adjudication.payer_id}))
            if adjudication.payer_id not in payer_ids:
                issues.append(("line_payer", {"claim": number, "line": line.number, "payer": adjudication.payer_id}))
    for other in claim.other_payers:
        paid = [Decimal(a.paid) for line in claim.lines for a in line.other_payer if a.payer_id == other.payer.id]
        if paid and sum(paid) != Decimal(other.paid):
            issues.append(("payer_paid", {"claim": number, "payer": other.payer.id}))
    return issues


def envelope_issues(envelope: Envelope):
    """Envelope fields an interchange cannot do without, as names of Envelope attributes."""
    required = ("sender_id", "receiver_id", "application_sender", "application_receiver", "submitter_name",
                "submitter_id", "receiver_name", "receiver_id_1000b")
    return [name for name in required if not _text(getattr(envelope, name))]


# --------------------------------------------------------------------------- writer

def _billing_key(party: Party):
    return (party.id, party.name, party.tax_id)


def _other_responsibilities(own):
    """SBR01 codes for the other payers of a claim billed with responsibility `own`."""
    return [code for code in "PST" if code != own] + list("ABCDEFGH")


def _claim(seg, claim: ClaimData, hl_number, parent):
    dependent = claim.relationship != "18"
    # 2000B subscriber
    seg.add("HL", hl_number, parent, "22", "1" if dependent else "0")
    group_name = "" if claim.member_group else _text(claim.plan_name)
    seg.add("SBR", claim.payer_responsibility, "" if dependent else "18", _text(claim.member_group), group_name,
            "", "", "", "", claim.claim_filing_indicator)
    sub = claim.subscriber
    _nm1(seg, "IL", sub, "MI", sub.id)
    _address(seg, sub.address)
    if not dependent:
        _dmg(seg, sub)
    _nm1(seg, "PR", claim.payer, "PI", claim.payer.id)
    _address(seg, claim.payer.address)
    hl_count = 1
    if dependent:
        # 2000C patient
        seg.add("HL", hl_number + 1, hl_number, "23", "0")
        seg.add("PAT", claim.relationship)
        _nm1(seg, "QC", claim.patient)
        _address(seg, claim.patient.address)
        _dmg(seg, claim.patient)
        hl_count = 2
    # 2300 claim
    seg.add("CLM", _text(claim.claim_number), money(claim.total_charge), "", "",
            COMPONENT.join([claim.place_of_service, "B", claim.frequency]), "Y", "A", "Y", "Y")
    if claim.prior_authorization:
        seg.add("REF", "G1", _text(claim.prior_authorization))
    if claim.frequency in ("7", "8"):
        seg.add("REF", "F8", _text(claim.payer_claim_control_number))
    seg.add("HI", *[COMPONENT.join(["ABK" if i == 0 else "ABF", _text(code).replace(".", "")])
                    for i, code in enumerate(claim.diagnoses)])
    if claim.rendering_provider:
        rendering = claim.rendering_provider
        _nm1(seg, "82", rendering, "XX", rendering.id)
        if rendering.taxonomy:
            seg.add("PRV", "PE", "PXC", rendering.taxonomy)
    if claim.service_facility:
        facility = claim.service_facility
        _nm1(seg, "77", facility, "XX", facility.id)
        _address(seg, facility.address)
    # 2320 / 2330A / 2330B: the other payers and what they did
    for other, responsibility in zip(claim.other_payers, _other_responsibilities(claim.payer_responsibility)):
        seg.add("SBR", responsibility, other.relationship, _text(other.member_group), "", "", "", "", "",
                other.claim_filing_indicator)
        _cas(seg, other.adjustments)
        seg.add("AMT", "D", money(other.paid))
        seg.add("OI", "", "", "Y", "", "", "Y")
        _nm1(seg, "IL", other.subscriber, "MI", other.subscriber.id)
        _address(seg, other.subscriber.address)
        _nm1(seg, "PR", other.payer, "PI", other.payer.id)
        _address(seg, other.payer.address)
        if other.payer_claim_control_number:
            seg.add("REF", "F8", _text(other.payer_claim_control_number))
    # 2400 lines
    for index, line in enumerate(claim.lines, start=1):
        seg.add("LX", index)
        pos = line.place_of_service if line.place_of_service != claim.place_of_service else ""
        seg.add("SV1", _procedure(line.code, line.modifiers), money(line.charge), "UN", quantity(line.units), pos,
                "", COMPONENT.join(str(p) for p in line.pointers))
        seg.add("DTP", "472", "D8", _d8(line.service_date))
        if line.rendering:
            _nm1(seg, "82", line.rendering, "XX", line.rendering.id)
            if line.rendering.taxonomy:
                seg.add("PRV", "PE", "PXC", line.rendering.taxonomy)
        for adjudication in line.other_payer:  # 2430
            seg.add("SVD", _text(adjudication.payer_id), money(adjudication.paid),
                    _procedure(adjudication.code, adjudication.modifiers), "", quantity(adjudication.units))
            _cas(seg, adjudication.adjustments)
            seg.add("DTP", "573", "D8", _d8(adjudication.paid_date))
    return hl_count


def _transaction(claims, envelope: Envelope, st_control, reference, created_at):
    seg = _Segments()
    seg.add("ST", "837", st_control, VERSION)
    seg.add("BHT", "0019", "00", _text(reference), created_at.strftime("%Y%m%d"), created_at.strftime("%H%M"), "CH")
    # 1000A submitter, 1000B receiver
    seg.add("NM1", "41", "2", _text(envelope.submitter_name), "", "", "", "", "46", _text(envelope.submitter_id))
    contact = ["PER", "IC", _text(envelope.submitter_contact_name, 60)]
    if envelope.submitter_contact_phone:
        contact += ["TE", _digits(envelope.submitter_contact_phone)]
    if envelope.submitter_contact_email:
        contact += ["EM", _text(envelope.submitter_contact_email, 256, upper=False)]
    seg.add(*contact)
    seg.add("NM1", "40", "2", _text(envelope.receiver_name), "", "", "", "", "46", _text(envelope.receiver_id_1000b))
    # 2000A per billing provider, in the order they first appear
    groups = {}
    for claim in claims:
        groups.setdefault(_billing_key(claim.billing_provider), []).append(claim)
    hl = 0
    for group in groups.values():
        first = group[0]
        provider = first.billing_provider
        hl += 1
        provider_hl = hl
        seg.add("HL", provider_hl, "", "20", "1")
        if provider.taxonomy:
            seg.add("PRV", "BI", "PXC", provider.taxonomy)
        _nm1(seg, "85", provider, "XX", provider.id)
        _address(seg, provider.address)
        seg.add("REF", "EI", _digits(provider.tax_id))
        if first.pay_to:
            seg.add("NM1", "87", "2")
            _address(seg, first.pay_to)
        for claim in group:
            hl += _claim(seg, claim, hl + 1, provider_hl)
    seg.add("SE", len(seg.items) + 1, st_control)
    return seg.items


def write_837p(claims, *, envelope: Envelope, control_number: int, created_at):
    """The 837P interchange for `claims` as text: one ISA/GS, one ST per 5,000 claims, one 2000A
    per billing provider in each.

    `control_number` (1..999999999) is ISA13/IEA02, GS06/GE02 and, with the ST number, the BHT03
    reference ("42-1"); `created_at`
    (a datetime) dates the envelopes. Claims that cannot be written raise ValueError listing why.
    """
    claims = list(claims)
    problems = [] if claims else ["There are no claims to write."]
    for claim in claims:
        problems += claim_problems(claim)
    if not 0 < int(control_number) < 10 ** 9:
        problems.append("The control number must be between 1 and 999999999.")
    if envelope.usage_indicator not in ("T", "P"):
        problems.append("The usage indicator must be T or P.")
    if problems:
        raise ValueError("\n".join(problems))
    control = int(control_number)
    isa = [
        "ISA", "00", " " * 10, "00", " " * 10,
        envelope.sender_qualifier.ljust(2)[:2], _text(envelope.sender_id).ljust(15)[:15],
        envelope.receiver_qualifier.ljust(2)[:2], _text(envelope.receiver_id).ljust(15)[:15],
        created_at.strftime("%y%m%d"), created_at.strftime("%H%M"), REPETITION, "00501",
        f"{control:09d}", "0", envelope.usage_indicator, COMPONENT,
    ]
    segments = [ELEMENT.join(isa)]
    segments.append(ELEMENT.join([
        "GS", "HC", _text(envelope.application_sender), _text(envelope.application_receiver),
        created_at.strftime("%Y%m%d"), created_at.strftime("%H%M"), str(control), "X", VERSION]))
    chunks = [claims[i:i + CLAIMS_PER_TRANSACTION] for i in range(0, len(claims), CLAIMS_PER_TRANSACTION)]
    for number, chunk in enumerate(chunks, start=1):
        segments += _transaction(chunk, envelope, f"{number:04d}", f"{control}-{number}", created_at)
    segments.append(ELEMENT.join(["GE", str(len(chunks)), str(control)]))
    segments.append(ELEMENT.join(["IEA", "1", f"{control:09d}"]))
    return SEGMENT.join(segments) + SEGMENT + "\n"

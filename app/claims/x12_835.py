"""The 835 health care claim payment/advice (ASC X12 5010, 005010X221A1), read into Remittance objects.

read_835(text) -> [Remittance], one per ST/SE transaction set (one check or EFT each). The file is
read segment by segment with the delimiters its ISA declares (element ISA position 4, repetition
ISA11, component ISA16, segment terminator after ISA16), so a payer using "|" or "^" or line breaks
is read as well as one using "*" and "~". Envelope counts (SE01, GE01, IEA01) and control numbers
are checked, and the payment must balance: BPR02 = sum of CLP04 - sum of PLB amounts.

A file that is not an 835, is cut short or has an element that is not what the guide says raises
ValidationFailed naming the segment (its position in the file and its id); nothing is returned.
The text has patient data in it: error messages name segments and positions, never their content.
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from ..services.errors import ValidationFailed
from . import Adjustment
from .remit import ClaimPayment, LinePayment, ProviderAdjustment, Remittance

ADJUSTMENT_GROUPS = ("CO", "PR", "OA", "PI", "CR")
PAYMENT_METHODS = {"CHK": "check", "ACH": "eft", "FWT": "eft", "BOP": "eft", "NON": "none"}
MAX_CAS_TRIPLETS = 6
MAX_PLB_PAIRS = 6


@dataclass
class Segment:
    position: int  # 1-based, counted from ISA
    id: str
    elements: list  # elements[0] is the id, elements[n] is element n

    def get(self, n, default=""):
        return self.elements[n].strip() if n < len(self.elements) else default

    def components(self, n, separator):
        return [c.strip() for c in self.get(n).split(separator)] if separator else [self.get(n)]


@dataclass
class Interchange:
    segments: list
    component: str
    repetition: str


def fail(kind, segment, problem):
    """ValidationFailed naming the segment (position, id) of a file of `kind`; nothing of its content."""
    if segment is None:
        message = _l("The %(kind)s file cannot be read: %(problem)s", kind=kind, problem=problem)
    else:
        message = _l("The %(kind)s file cannot be read: segment %(position)d (%(segment)s): %(problem)s",
                     kind=kind, position=segment.position, segment=segment.id or "?", problem=problem)
    raise ValidationFailed([("file", message)])


def split_interchange(text, kind):
    """The segments of one X12 interchange (ISA..IEA), checked envelope by envelope."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            fail(kind, None, _l("it is not plain ASCII text."))
    text = (text or "").lstrip("\ufeff \t\r\n")
    if not text.startswith("ISA") or len(text) < 106:
        fail(kind, None, _l("it is not an X12 file (it does not start with an ISA segment)."))
    element, repetition, component, terminator = text[3], text[82], text[104], text[105]
    if element.isalnum() or terminator.isalnum() or component.isalnum() or len({element, component, terminator}) < 3:
        fail(kind, None, _l("the ISA segment does not declare valid delimiters."))
    segments = []
    for raw in (s.strip("\r\n \t") for s in text.split(terminator)):
        if not raw:
            continue
        elements = raw.split(element)
        segments.append(Segment(len(segments) + 1, elements[0].strip().upper(), elements))
    isa = segments[0]
    if len(isa.elements) != 17:
        fail(kind, isa, _l("the ISA segment must have 16 elements."))
    for seg in segments:
        if not seg.id.isalnum() or not 2 <= len(seg.id) <= 3:
            fail(kind, seg, _l("this is not a segment identifier."))
    last = segments[-1]
    if last.id != "IEA":
        fail(kind, last, _l("the file ends before its IEA segment (it is cut short)."))
    if last.get(2) != isa.get(13):
        fail(kind, last, _l("IEA02 does not repeat the interchange control number of ISA13."))
    groups = [s for s in segments if s.id == "GS"]
    if _int(last.get(1)) != len(groups):
        fail(kind, last, _l("IEA01 does not count the functional groups of the file."))
    _check_groups(kind, segments)
    return Interchange(segments, component, repetition if repetition != component else "")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _check_groups(kind, segments):
    group, sets, st, count = None, 0, None, 0
    for seg in segments[1:-1]:
        if seg.id == "GS":
            if group is not None or st is not None:
                fail(kind, seg, _l("a functional group starts before the previous one ends."))
            group, sets = seg, 0
        elif seg.id == "GE":
            if group is None or st is not None:
                fail(kind, seg, _l("GE without its GS, or before the transaction set ends."))
            if seg.get(2) != group.get(6):
                fail(kind, seg, _l("GE02 does not repeat the group control number of GS06."))
            if _int(seg.get(1)) != sets:
                fail(kind, seg, _l("GE01 does not count the transaction sets of the group."))
            group = None
        elif seg.id == "ST":
            if group is None or st is not None:
                fail(kind, seg, _l("ST outside a functional group, or before the previous SE."))
            st, count, sets = seg, 1, sets + 1
        elif seg.id == "SE":
            if st is None:
                fail(kind, seg, _l("SE without its ST."))
            count += 1
            if _int(seg.get(1)) != count:
                fail(kind, seg, _l("SE01 says %(said)s segments but the transaction set has %(count)d.",
                                   said=seg.get(1)[:10], count=count))
            if seg.get(2) != st.get(2):
                fail(kind, seg, _l("SE02 does not repeat the control number of ST02."))
            st = None
        elif st is None:
            fail(kind, seg, _l("segment outside a transaction set."))
        else:
            count += 1
    if st is not None or group is not None:
        fail(kind, segments[-1], _l("the file ends inside a transaction set (it is cut short)."))


def transaction_sets(interchange, kind, st01):
    """[(GS segment, [segments from ST to SE])] of the sets whose ST01 is `st01`; others refused."""
    found, gs, current = [], None, None
    for seg in interchange.segments:
        if seg.id == "GS":
            gs = seg
        elif seg.id == "ST":
            if seg.get(1) != st01:
                fail(kind, seg, _l("this is a %(found)s transaction set, not a %(expected)s.",
                                   found=seg.get(1)[:3] or "?", expected=st01))
            current = [seg]
        elif current is not None:
            current.append(seg)
            if seg.id == "SE":
                found.append((gs, current))
                current = None
    if not found:
        fail(kind, None, _l("it has no %(expected)s transaction set.", expected=st01))
    return found


def money(kind, seg, n, required=True):
    value = seg.get(n)
    if not value:
        if required:
            fail(kind, seg, _l("element %(n)d (an amount) is missing.", n=n))
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        fail(kind, seg, _l("element %(n)d is not an amount.", n=n))
    if not amount.is_finite() or abs(amount) >= Decimal("100000000"):
        fail(kind, seg, _l("element %(n)d is not an amount.", n=n))
    return amount.quantize(Decimal("0.01"))


def number(kind, seg, n):
    value = seg.get(n)
    if not value:
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        fail(kind, seg, _l("element %(n)d is not a number.", n=n))
    if not result.is_finite():
        fail(kind, seg, _l("element %(n)d is not a number.", n=n))
    return result


def d8(kind, seg, n):
    value = seg.get(n)
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        fail(kind, seg, _l("element %(n)d is not a date (CCYYMMDD).", n=n))


# --------------------------------------------------------------------------- 835

KIND = "835"


def _cas(seg):
    group = seg.get(1)
    if group not in ADJUSTMENT_GROUPS:
        fail(KIND, seg, _l("CAS01 is not an adjustment group code (CO, PR, OA, PI, CR)."))
    adjustments = []
    for i in range(MAX_CAS_TRIPLETS):
        reason, amount_at, quantity_at = 2 + 3 * i, 3 + 3 * i, 4 + 3 * i
        if not seg.get(reason):
            if seg.get(amount_at):
                fail(KIND, seg, _l("an adjustment amount has no reason code."))
            continue
        if len(seg.get(reason)) > 5:
            fail(KIND, seg, _l("element %(n)d is not an adjustment reason code.", n=reason))
        adjustments.append(Adjustment(group=group, reason=seg.get(reason), amount=money(KIND, seg, amount_at),
                                      quantity=number(KIND, seg, quantity_at)))
    if len(seg.elements) > 20:
        fail(KIND, seg, _l("a CAS segment has at most six adjustments."))
    if not adjustments:
        fail(KIND, seg, _l("the CAS segment has no adjustment."))
    return adjustments


def _svc(seg, component):
    parts = seg.components(1, component)
    if len(parts) < 2 or parts[0] not in ("HC", "AD", "ER", "IV", "N4", "NU", "WK", "HP") or not parts[1]:
        fail(KIND, seg, _l("SVC01 must name a procedure (qualifier and code)."))
    modifiers = [m for m in parts[2:6] if m]
    units = number(KIND, seg, 5)
    return LinePayment(code=parts[1], modifiers=modifiers, charge=money(KIND, seg, 2), paid=money(KIND, seg, 3),
                       units=units if units is not None else Decimal(1))


def _remittance(gs, segments, component):
    """One ST..SE transaction set as a Remittance."""
    bpr = next((s for s in segments[:3] if s.id == "BPR"), None)
    if bpr is None:
        fail(KIND, segments[1] if len(segments) > 1 else segments[0], _l("BPR must follow ST."))
    trn = next((s for s in segments if s.id == "TRN"), None)
    if trn is None or not trn.get(2):
        fail(KIND, trn or bpr, _l("the TRN segment with the check or EFT trace number is missing."))
    if len(trn.get(2)) > 50:
        fail(KIND, trn, _l("TRN02 is longer than 50 characters."))
    if bpr.get(3) not in ("C", "D"):
        fail(KIND, bpr, _l("BPR03 must be C (credit) or D (debit)."))
    method = PAYMENT_METHODS.get(bpr.get(4))
    if method is None:
        fail(KIND, bpr, _l("BPR04 is not a payment method (CHK, ACH, NON, BOP, FWT)."))
    paid_date = d8(KIND, bpr, 16)
    remittance = Remittance(payer_name="", payer_identifier=trn.get(3) or None, method=method,
                            reference=trn.get(2), paid_date=paid_date, amount=money(KIND, bpr, 2), source="835")
    loop, claim, line, payer_id_ref = None, None, None, None
    for seg in segments[1:-1]:
        sid = seg.id
        if sid == "N1":
            loop = "payer" if seg.get(1) == "PR" else "payee" if seg.get(1) == "PE" else loop
            if loop == "payer":
                remittance.payer_name = seg.get(2)
                if seg.get(4):
                    remittance.payer_identifier = seg.get(4)
        elif sid == "REF" and loop == "payer" and seg.get(1) == "2U" and claim is None:
            payer_id_ref = seg.get(2)
        elif sid == "LX":
            loop = "header"
        elif sid == "CLP":
            for n in (1, 2):
                if not seg.get(n):
                    fail(KIND, seg, _l("element %(n)d is missing.", n=n))
            if len(seg.get(1)) > 38:
                fail(KIND, seg, _l("CLP01 is longer than 38 characters."))
            claim = ClaimPayment(claim_number=seg.get(1), status_code=seg.get(2), charge=money(KIND, seg, 3),
                                 paid=money(KIND, seg, 4),
                                 patient_responsibility=money(KIND, seg, 5, required=False) or Decimal("0.00"),
                                 payer_claim_control_number=seg.get(7) or None)
            remittance.claims.append(claim)
            loop, line = "claim", None
        elif sid == "CAS":
            if claim is None:
                fail(KIND, seg, _l("CAS before any CLP."))
            (line.adjustments if line is not None else claim.adjustments).extend(_cas(seg))
        elif sid in ("MOA", "MIA") and claim is not None and line is None:
            positions = (3, 4, 5, 6, 7) if sid == "MOA" else (5, 20, 21, 22, 23)
            claim.remarks.extend(seg.get(n) for n in positions if seg.get(n))
        elif sid == "SVC":
            if claim is None:
                fail(KIND, seg, _l("SVC before any CLP."))
            line = _svc(seg, component)
            claim.lines.append(line)
            loop = "line"
        elif sid == "DTM" and line is not None and seg.get(1) in ("472", "150"):
            if seg.get(1) == "472" or line.service_date is None:
                line.service_date = d8(KIND, seg, 2)
        elif sid == "REF" and line is not None and seg.get(1) == "6R":
            line.line_number = _int(seg.get(2)) if seg.get(2).isdigit() else None
        elif sid == "AMT" and line is not None and seg.get(1) == "B6":
            line.allowed = money(KIND, seg, 2)
        elif sid == "LQ" and line is not None and seg.get(1) == "HE":
            if not seg.get(2):
                fail(KIND, seg, _l("LQ02 (the remark code) is missing."))
            line.remarks.append(seg.get(2))
        elif sid == "PLB":
            loop, claim, line = "summary", None, None
            fiscal_period = d8(KIND, seg, 2) if seg.get(2) else None
            for i in range(MAX_PLB_PAIRS):
                reason_at, amount_at = 3 + 2 * i, 4 + 2 * i
                if not seg.get(reason_at):
                    continue
                reason, *rest = seg.components(reason_at, component)
                if not reason or len(reason) > 2:
                    fail(KIND, seg, _l("element %(n)d (the adjustment reason) must be a 2-character code.",
                                       n=reason_at))
                remittance.provider_adjustments.append(ProviderAdjustment(
                    group="PLB", reason=reason.upper(), amount=money(KIND, seg, amount_at),
                    reference=(rest[0][:50] if rest and rest[0] else None), fiscal_period_date=fiscal_period))
    if payer_id_ref:
        remittance.payer_identifier = payer_id_ref
    if not remittance.payer_name:
        fail(KIND, segments[-1], _l("the payer (N1*PR) is missing."))
    sign = Decimal(-1) if bpr.get(3) == "D" else Decimal(1)
    paid = sum((c.paid for c in remittance.claims), Decimal("0.00"))
    taken = sum((a.amount for a in remittance.provider_adjustments), Decimal("0.00"))
    if sign * remittance.amount != paid - taken:
        fail(KIND, bpr, _l("BPR02 (%(amount)s) is not the claim payments (%(paid)s) minus the provider "
                           "adjustments (%(taken)s): the file does not balance.",
                           amount=remittance.amount, paid=paid, taken=taken))
    return remittance


def read_835(text):
    """Every Remittance of an 835 file (one per transaction set); ValidationFailed, naming the segment,
    when the file is not a well-formed 835."""
    interchange = split_interchange(text, KIND)
    remittances = []
    for gs, segments in transaction_sets(interchange, KIND, "835"):
        if gs.get(1) != "HP":
            fail(KIND, gs, _l("GS01 must be HP (health care claim payment/advice)."))
        remittances.append(_remittance(gs, segments, interchange.component))
    return remittances

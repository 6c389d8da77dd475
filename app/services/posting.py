"""Posting: what payers and patients paid, written in one place, and every balance computed in one place.

A remittance (app/claims/remit.py: read from an 835 or typed in from a paper EOB) is first
previewed (nothing written: the matched claims, what would change, every problem at once), then
posted all or nothing. Nothing is posted twice: the same 835 file (its hash) or the same payer
check/EFT reference is refused. A reversal (CLP02 = 22) is posted as negative amounts that cancel
an earlier posting; the claim's status history keeps what happened.

Balances are never stored. A claim's balance counts everything posted on its encounter's claims
(a primary and a secondary claim, an original and its replacement bill the same services once):

    balance = charge - payer_paid - patient_paid - adjustments          (to the cent)

where adjustments are the payers' non-PR adjustments (OA-23, "impact of prior payer", is the
primary's adjudication repeated by the secondary and is not counted twice), patient
responsibility is the PR of the last payer that adjudicated, and patient_paid are the patient's
payments applied to the claim plus the copays taken for the visit.
"""
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import format_date, format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..claims import codes
from ..claims.remit import DENIED, REVERSAL
from ..models.base import utcnow
from ..models.billing import CopayPayment, Encounter, Payer
from ..models.claims import Claim
from ..models.payments import (
    ADJUSTMENT_GROUPS,
    PATIENT_PAYMENT_METHODS,
    PAYER_PAYMENT_METHODS,
    ClaimPosting,
    LinePosting,
    PatientPayment,
    PayerPayment,
    PostingAdjustment,
    ProviderAdjustment,
)
from . import claims as claim_service
from .encounters import line_total
from .errors import ValidationFailed, commit_or_stale
from .receipts import (  # noqa: F401 - CARD_NUMBER_MESSAGE, looks_like_card_number: also used from here
    CARD_NUMBER_MESSAGE,
    amount_problems,
    check_reference,
    looks_like_card_number,
    parse_amount,
    reserve_receipt_number,
    void_receipt,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
KNOWN_STATUS_CODES = ("1", "2", "3", "4", "19", "20", "21", "22", "23", "25")
PAYABLE_STATUSES = ("submitted", "accepted", "appealed")
ADJUDICATED = ("paid", "denied")
PRIOR_PAYER_REASON = "23"  # OA-23: the impact of the prior payer's adjudication
MAX_PATIENT_PAYMENT = Decimal("100000")
METHOD_LABELS = {"cash": _l("Cash"), "card": _l("Card (approval code)"), "check": _l("Check"), "other": _l("Other")}
PAYER_METHOD_LABELS = {"check": _l("Check"), "eft": _l("EFT"), "none": _l("No payment (denials only)")}


def money(value):
    return Decimal(value if value is not None else 0).quantize(CENT)


def _fmt(value):
    """An amount for a message, in the reader's locale (1,234.50 / 1 234,50 ...)."""
    return format_decimal(money(value), format="#,##0.00")


# --------------------------------------------------------------------------- balances

@dataclass
class ClaimBalance:
    charge: Decimal
    payer_paid: Decimal
    adjustments: Decimal  # non-PR payer adjustments
    patient_responsibility: Decimal  # PR of the last payer that adjudicated
    patient_paid: Decimal
    insurance_balance: Decimal
    patient_balance: Decimal
    balance: Decimal


def _family(session, claim):
    """The claims billing the same services (same encounter): primary, secondary, replacements."""
    return session.scalars(select(Claim).where(Claim.encounter_id == claim.encounter_id).order_by(Claim.id)).all()


def _live(claims):
    return [c for c in claims if c.status != "void" and c.frequency_code != "8"]


def _lead(claims):
    """The claim that carries the encounter's charge: the latest live claim to the first payer."""
    live = _live(claims)
    if not live:
        return None
    first = min(c.coverage.priority for c in live)
    return [c for c in live if c.coverage.priority == first][-1]


def _postings(session, claim_ids):
    if not claim_ids:
        return []
    return session.scalars(select(ClaimPosting).where(ClaimPosting.claim_id.in_(claim_ids))
                           .order_by(ClaimPosting.id)).all()


def _copays_for(session, encounter):
    if encounter is None or encounter.appointment_id is None:
        return []
    return session.scalars(select(CopayPayment).where(CopayPayment.appointment_id == encounter.appointment_id,
                                                      CopayPayment.voided.is_(False))).all()


def _claim_figures(session, family):
    lead = _lead(family)
    charge = money(lead.total_charge) if lead is not None else ZERO
    ids = [c.id for c in family]
    postings = _postings(session, ids)
    paid = sum((money(p.paid) for p in postings), ZERO)
    adjustments = ZERO
    pr_by_priority = {}
    priority = {c.id: c.coverage.priority for c in family}
    for p in postings:
        for a in p.adjustments:
            if a.group_code == "PR":
                pr_by_priority[priority[p.claim_id]] = pr_by_priority.get(priority[p.claim_id], ZERO) + money(a.amount)
            elif not (a.group_code == "OA" and a.reason_code == PRIOR_PAYER_REASON):
                adjustments += money(a.amount)
    posted_priorities = {priority[p.claim_id] for p in postings}
    responsibility = ZERO
    if posted_priorities:
        last = max(posted_priorities)
        pending = [c for c in _live(family) if c.coverage.priority > last]
        responsibility = ZERO if pending else pr_by_priority.get(last, ZERO)
    patient_paid = sum((money(p.amount) for p in session.scalars(
        select(PatientPayment).where(PatientPayment.claim_id.in_(ids), PatientPayment.voided.is_(False)))), ZERO)
    encounter = family[0].encounter if family else None
    patient_paid += sum((money(c.amount) for c in _copays_for(session, encounter)), ZERO)
    balance = charge - paid - patient_paid - adjustments
    patient_balance = responsibility - patient_paid
    return ClaimBalance(charge=charge, payer_paid=paid, adjustments=adjustments,
                        patient_responsibility=responsibility, patient_paid=patient_paid,
                        insurance_balance=balance - patient_balance, patient_balance=patient_balance, balance=balance)


def claim_balance(session, claim):
    """ClaimBalance of the claim (its encounter's services), all Decimal to the cent."""
    return _claim_figures(session, _family(session, claim))


@dataclass
class AccountLine:
    kind: str  # "claim" (billed to insurance), "unbilled" (insured, no claim yet) or "self_pay" (the patient is billed)
    service_date: object
    encounter: object
    claim: object  # the lead claim, or None
    claims: list
    balance: ClaimBalance
    postings: list = field(default_factory=list)


@dataclass
class Account:
    patient: object
    lines: list  # AccountLine, newest first
    payments: list  # PatientPayment (void ones included), newest first
    copays: list  # CopayPayment (void ones included), newest first
    unapplied: Decimal  # patient payments on account not applied to a claim, copays not tied to a visit billed
    insurance_balance: Decimal
    patient_balance: Decimal
    balance: Decimal


def _insured(session, encounter):
    from .coverage import active_coverages

    return any(not c.self_pay and c.payer_id is not None
               for c in active_coverages(session, encounter.patient_id, encounter.service_date))


def _unclaimed_balance(session, encounter, insured):
    """A visit without a claim: billed to the patient (self-pay), or waiting for its claim (insured: the
    insurance is expected to pay; what the patient paid is a credit until the payer answers)."""
    charge = sum((money(line_total(c)) for c in encounter.charges), ZERO)
    paid = sum((money(c.amount) for c in _copays_for(session, encounter)), ZERO)
    responsibility = ZERO if insured else charge
    return ClaimBalance(charge=charge, payer_paid=ZERO, adjustments=ZERO, patient_responsibility=responsibility,
                        patient_paid=paid, insurance_balance=charge - responsibility,
                        patient_balance=responsibility - paid, balance=charge - paid)


def patient_account(session, patient):
    """The patient's account (what a statement prints): each billed visit with its balance, self-pay
    visits, the payments and copays; balance = sum of the lines - payments not applied to any of them."""
    pid = patient.id if hasattr(patient, "id") else patient
    claims = session.scalars(select(Claim).where(Claim.patient_id == pid).order_by(Claim.id)).all()
    families = {}
    for c in claims:
        families.setdefault(c.encounter_id, []).append(c)
    lines, applied_copays = [], set()
    for encounter_id, family in families.items():
        lead = _lead(family)
        if lead is None:
            continue  # every claim void: the encounter is billed again, or shown below as self-pay
        figures = _claim_figures(session, family)
        applied_copays.update(c.id for c in _copays_for(session, lead.encounter))
        lines.append(AccountLine(kind="claim", service_date=lead.service_date, encounter=lead.encounter, claim=lead,
                                 claims=family, balance=figures, postings=_postings(session, [c.id for c in family])))
    billed = {eid for eid, fam in families.items() if _lead(fam) is not None}
    for enc in session.scalars(select(Encounter).where(Encounter.patient_id == pid, Encounter.status != "open")
                               .order_by(Encounter.id)).all():
        if enc.id in billed or not enc.charges:
            continue
        applied_copays.update(c.id for c in _copays_for(session, enc))
        insured = _insured(session, enc)
        lines.append(AccountLine(kind="unbilled" if insured else "self_pay", service_date=enc.service_date,
                                 encounter=enc, claim=None, claims=[], balance=_unclaimed_balance(session, enc, insured)))
    payments = session.scalars(select(PatientPayment).where(PatientPayment.patient_id == pid)
                               .order_by(PatientPayment.received_at.desc(), PatientPayment.id.desc())).all()
    copays = session.scalars(select(CopayPayment).where(CopayPayment.patient_id == pid)
                             .order_by(CopayPayment.received_at.desc(), CopayPayment.id.desc())).all()
    unapplied = sum((money(p.amount) for p in payments if not p.voided and p.claim_id is None), ZERO)
    unapplied += sum((money(c.amount) for c in copays if not c.voided and c.id not in applied_copays), ZERO)
    lines.sort(key=lambda line: (line.service_date, line.encounter.id), reverse=True)
    insurance = sum((line.balance.insurance_balance for line in lines), ZERO)
    patient_part = sum((line.balance.patient_balance for line in lines), ZERO) - unapplied
    return Account(patient=patient, lines=lines, payments=payments, copays=copays, unapplied=unapplied,
                   insurance_balance=insurance, patient_balance=patient_part, balance=insurance + patient_part)


# --------------------------------------------------------------------------- denial reasons

def _readable(adjustments, remarks):
    found = []
    for a in adjustments:
        if a.group_code != "PR" and money(a.amount) != ZERO:
            text = codes.describe_adjustment(a.group_code, a.reason_code)
            if text not in found:
                found.append(text)
    for code in remarks:
        text = codes.describe_remark(code)
        if text not in found:
            found.append(text)
    return found


def _remarks(text):
    return [r.strip() for r in (text or "").split(",") if r.strip()]


def denial_reasons(session, claim):
    """Readable CARC / RARC of the payer's last adjudication of the claim ("CO-50: These are non-covered ...")."""
    postings = [p for p in _postings(session, [claim.id]) if p.status_code != REVERSAL]
    if not postings:
        return []
    last = postings[-1]
    remarks = _remarks(last.remarks) + [r for line in last.lines for r in _remarks(line.remarks)]
    return _readable(last.adjustments, remarks)


def _is_denial(cp):
    if cp.status_code == DENIED:
        return True
    adjustments = list(cp.adjustments) + [a for line in cp.lines for a in line.adjustments]
    return money(cp.paid) == ZERO and any(
        a.group != "PR" and str(a.reason).lstrip("0") in codes.DENIAL_CARC for a in adjustments)


def _reasons_of(cp):
    class _A:  # the payment's adjustments, read like stored ones
        def __init__(self, a):
            self.group_code, self.reason_code, self.amount = a.group, a.reason, a.amount
    adjustments = [_A(a) for a in cp.adjustments] + [_A(a) for line in cp.lines for a in line.adjustments]
    remarks = list(cp.remarks) + [r for line in cp.lines for r in line.remarks]
    return _readable(adjustments, remarks)


# --------------------------------------------------------------------------- preview

@dataclass
class ClaimPreview:
    payment: object  # app.claims.remit.ClaimPayment
    claim: object | None
    balance: ClaimBalance | None = None  # before
    new_status: str | None = None  # the status the claim will have (None: unchanged)
    lines: list = field(default_factory=list)  # matched ClaimLine per LinePayment
    reasons: list = field(default_factory=list)  # readable CARC/RARC
    problems: list = field(default_factory=list)

    @property
    def balance_after(self):
        if self.balance is None:
            return None
        p = self.payment
        adjusted = sum((money(a.amount) for a in list(p.adjustments) + [a for ln in p.lines for a in ln.adjustments]
                        if a.group != "PR" and not (a.group == "OA" and a.reason == PRIOR_PAYER_REASON)), ZERO)
        return self.balance.balance - money(p.paid) - adjusted


@dataclass
class Preview:
    remittance: object
    payer: object | None
    claims: list
    problems: list  # [(field, message)]: every problem, the claims' included

    @property
    def ok(self):
        return not self.problems

    @property
    def total_paid(self):
        return sum((money(c.payment.paid) for c in self.claims), ZERO)


def _decimal(value):
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return d if d.is_finite() else None


def _find_payer(session, remittance):
    ident = (remittance.payer_identifier or "").strip()
    if ident:
        payer = session.scalars(select(Payer).where(Payer.payer_code == ident)).first()
        if payer is not None:
            return payer
    name = (remittance.payer_name or "").strip()
    if name:
        found = session.scalars(select(Payer).where(Payer.name == name)).all()
        if len(found) == 1:
            return found[0]
    return None


def _adjustment_problems(where, adjustments):
    problems = []
    for a in adjustments:
        if (a.group or "").upper() not in ADJUSTMENT_GROUPS:
            problems.append((where, _l("Unknown adjustment group %(group)s: use CO, PR, OA, PI or CR.",
                                       group=a.group or "?")))
        if not (a.reason or "").strip() or len(a.reason.strip()) > 5:
            problems.append((where, _l("Adjustment %(group)s needs a reason code (CARC, up to 5 characters).",
                                       group=a.group or "?")))
        if _decimal(a.amount) is None:
            problems.append((where, _l("Adjustment %(group)s-%(reason)s: the amount is not a number.",
                                       group=a.group or "?", reason=a.reason or "?")))
    return problems


def _match_lines(claim, payment):
    """The claim line each line payment is for: by our line number, else by code and date; None if none."""
    taken, matched = set(), []
    for lp in payment.lines:
        found = None
        if lp.line_number is not None:
            found = next((ln for ln in claim.lines if ln.line_number == lp.line_number), None)
        if found is None:
            found = next((ln for ln in claim.lines if ln.id not in taken and ln.code == lp.code
                          and (lp.service_date is None or ln.service_date == lp.service_date)), None)
        if found is not None:
            taken.add(found.id)
        matched.append(found)
    return matched


def _preview_claim(session, remittance, payer, cp, index, seen):
    where = f"claims-{index}"
    number = (cp.claim_number or "").strip()
    claim = session.scalars(select(Claim).where(Claim.claim_number == number)).first() if number else None
    item = ClaimPreview(payment=cp, claim=claim)
    problems = item.problems
    if claim is None:
        problems.append((where, _l("Claim %(number)s is unknown: no claim of ours has that number.",
                                   number=number or "?")))
        return item
    money_fields = [cp.charge, cp.paid, cp.patient_responsibility] + [
        v for ln in cp.lines for v in (ln.charge, ln.paid)]
    if any(_decimal(v) is None for v in money_fields):
        problems.append((where, _l("Claim %(number)s: an amount is not a number.", number=number)))
        return item
    if payer is not None and claim.payer_id != payer.id:
        problems.append((where, _l("Claim %(number)s was sent to %(claim_payer)s, not to %(payer)s.",
                                   number=number, claim_payer=claim.payer.name, payer=payer.name)))
    if cp.status_code not in KNOWN_STATUS_CODES:
        problems.append((where, _l("Claim %(number)s: unknown claim status code %(code)s.", number=number,
                                   code=cp.status_code or "?")))
    problems += _adjustment_problems(where, list(cp.adjustments) + [a for ln in cp.lines for a in ln.adjustments])
    if len(cp.payer_claim_control_number or "") > 50:
        problems.append((where, _l("Claim %(number)s: the payer claim control number has more than 50 characters.",
                                   number=number)))
    if problems:
        return item
    item.balance = claim_balance(session, claim)
    if claim.id not in seen:
        earlier = _postings(session, [claim.id])
        reversals = sum(1 for p in earlier if p.status_code == REVERSAL)
        seen[claim.id] = {"paid": item.balance.payer_paid, "adjusted": item.balance.adjustments,
                          # every earlier adjudication taken back: the claim can be adjudicated anew
                          "reversed": bool(earlier) and reversals >= len(earlier) - reversals}
    state = seen[claim.id]
    paid = money(cp.paid)
    adjusted = sum((money(a.amount) for a in list(cp.adjustments) + [a for ln in cp.lines for a in ln.adjustments]),
                   ZERO)
    if cp.status_code == REVERSAL:
        if paid > ZERO:
            problems.append((where, _l("Claim %(number)s: a reversal (status 22) takes money back: its amounts are "
                                       "negative.", number=number)))
        elif -paid > state["paid"]:
            problems.append((where, _l("Claim %(number)s: the reversal of %(amount)s is more than the payer paid on "
                                       "it (%(paid)s): there is nothing to reverse.", number=number,
                                       amount=_fmt(-paid), paid=_fmt(state["paid"]))))
        state["reversed"] = True
    else:
        if paid < ZERO:
            problems.append((where, _l("Claim %(number)s: a payment cannot be negative; a payer takes money back "
                                       "with a reversal (status 22).", number=number)))
        if claim.status in ADJUDICATED and not state["reversed"]:
            problems.append((where, _l("Claim %(number)s is already %(status)s: post the payer's reversal (status "
                                       "22) of the earlier payment first.", number=number,
                                       status=claim_service.status_label(claim.status))))
        elif claim.status not in PAYABLE_STATUSES + ADJUDICATED:
            problems.append((where, _l("Claim %(number)s is %(status)s: only a claim sent to the payer can be paid.",
                                       number=number, status=claim_service.status_label(claim.status))))
        open_amount = item.balance.charge - state["paid"] - state["adjusted"]
        if paid > open_amount:
            problems.append((where, _l("Claim %(number)s: the payment of %(paid)s is more than the claim's balance "
                                       "(%(open)s).", number=number, paid=_fmt(paid), open=_fmt(open_amount))))
    if money(cp.charge) - paid != adjusted:
        problems.append((where, _l("Claim %(number)s does not balance: charge %(charge)s minus paid %(paid)s is not "
                                   "the adjustments (%(adjusted)s).", number=number, charge=_fmt(cp.charge),
                                   paid=_fmt(paid), adjusted=_fmt(adjusted))))
    pr = sum((money(a.amount) for a in list(cp.adjustments) + [a for ln in cp.lines for a in ln.adjustments]
              if a.group == "PR"), ZERO)
    if money(cp.patient_responsibility) != pr:
        problems.append((where, _l("Claim %(number)s: the patient responsibility %(given)s is not the sum of the PR "
                                   "adjustments (%(sum)s).", number=number, given=_fmt(cp.patient_responsibility),
                                   sum=_fmt(pr))))
    if cp.lines:
        if sum((money(ln.paid) for ln in cp.lines), ZERO) != paid:
            problems.append((where, _l("Claim %(number)s: the line payments do not add up to the claim payment "
                                       "%(paid)s.", number=number, paid=_fmt(paid))))
        item.lines = _match_lines(claim, cp)
        for ln, matched in zip(cp.lines, item.lines):
            if matched is None:
                problems.append((where, _l("Claim %(number)s has no line %(code)s to pay.", number=number,
                                           code=ln.code or "?")))
            line_adjusted = sum((money(a.amount) for a in ln.adjustments), ZERO)
            if money(ln.charge) - money(ln.paid) != line_adjusted:
                problems.append((where, _l("Claim %(number)s line %(code)s does not balance: charge %(charge)s minus "
                                           "paid %(paid)s is not the adjustments (%(adjusted)s).", number=number,
                                           code=ln.code or "?", charge=_fmt(ln.charge), paid=_fmt(ln.paid),
                                           adjusted=_fmt(line_adjusted))))
    if not problems:
        state["paid"] += paid
        state["adjusted"] += sum((money(a.amount) for a in list(cp.adjustments)
                                  + [a for ln in cp.lines for a in ln.adjustments]
                                  if a.group != "PR" and not (a.group == "OA" and a.reason == PRIOR_PAYER_REASON)),
                                 ZERO)
        if cp.status_code != REVERSAL:
            denied = _is_denial(cp)
            item.new_status = "denied" if denied else "paid"
            item.reasons = _reasons_of(cp) if denied else []
    return item


def preview(session, remittance):
    """What posting `remittance` would do, and every problem (nothing is written)."""
    for cp in remittance.claims:  # CAS codes as the code lists write them: "pr" is PR
        for a in list(cp.adjustments) + [a for ln in cp.lines for a in ln.adjustments]:
            a.group, a.reason = (a.group or "").strip().upper(), (a.reason or "").strip().upper()
    problems = []
    payer = _find_payer(session, remittance)
    if payer is None:
        problems.append(("payer", _l("Unknown payer %(name)s: add it under the payers first.",
                                     name=remittance.payer_identifier or remittance.payer_name or "?")))
    if remittance.method not in PAYER_PAYMENT_METHODS:
        problems.append(("method", _l("Choose check, EFT or no payment.")))
    reference = (remittance.reference or "").strip()
    if not reference:
        problems.append(("reference", _l("The check or EFT trace number is required.")))
    elif len(reference) > 50:
        problems.append(("reference", _l("At most %(max)d characters.", max=50)))
    elif payer is not None:
        earlier = session.scalars(select(PayerPayment).where(PayerPayment.payer_id == payer.id,
                                                             PayerPayment.reference == reference)).first()
        if earlier is not None:
            problems.append(("reference", _l("Payment %(reference)s from %(payer)s was already posted on %(date)s: "
                                             "nothing is posted twice.", reference=reference, payer=payer.name,
                                             date=format_date(earlier.posted_at.date()))))
    if remittance.file_sha256:
        earlier = session.scalars(select(PayerPayment).where(PayerPayment.file_sha256 == remittance.file_sha256)).first()
        if earlier is not None:
            problems.append(("file", _l("This file was already posted on %(date)s (payment %(reference)s): nothing "
                                        "is posted twice.", date=format_date(earlier.posted_at.date()),
                                        reference=earlier.reference)))
    if remittance.paid_date is None:
        problems.append(("paid_date", _l("The payment date is required.")))
    amount = _decimal(remittance.amount)
    if amount is None:
        problems.append(("amount", _l("The payment amount is not a number.")))
    if not remittance.claims:
        problems.append(("claims", _l("The payment pays no claim: add at least one claim.")))
    items, seen = [], {}
    numbers = [c.claim_number for c in remittance.claims]
    for index, cp in enumerate(remittance.claims):
        item = _preview_claim(session, remittance, payer, cp, index, seen)
        if cp.status_code != REVERSAL and numbers.count(cp.claim_number) > 1 and any(
                o.claim_number == cp.claim_number and o.status_code != REVERSAL and o is not cp
                for o in remittance.claims):
            item.problems.append((f"claims-{index}", _l("Claim %(number)s is paid twice in this payment.",
                                                        number=cp.claim_number)))
        items.append(item)
        problems += item.problems
    for a in remittance.provider_adjustments:  # PLB03-1: a 2-character code (L6, WO, FB, 72 ...)
        a.reason = (a.reason or "").strip().upper()
        if not a.reason or len(a.reason) > 2:
            problems.append(("provider_adjustments", _l("Provider adjustment reason %(code)s is not a PLB reason "
                                                        "code (2 characters).", code=a.reason or "?")))
        if _decimal(a.amount) is None:
            problems.append(("provider_adjustments", _l("A provider adjustment amount is not a number.")))
    if amount is not None and all(_decimal(c.paid) is not None for c in remittance.claims):
        expected = sum((money(c.paid) for c in remittance.claims), ZERO) - sum(
            (money(a.amount) for a in remittance.provider_adjustments if _decimal(a.amount) is not None), ZERO)
        if money(amount) != expected:
            problems.append(("amount", _l("The payment amount %(amount)s does not match the claims: they add up to "
                                          "%(expected)s (paid on the claims minus provider adjustments).",
                                          amount=_fmt(amount), expected=_fmt(expected))))
    return Preview(remittance=remittance, payer=payer, claims=items, problems=problems)


# --------------------------------------------------------------------------- post

def _join(values, limit=200):
    return ",".join(v.strip() for v in values if v and v.strip())[:limit] or None


def _status_path(current, target):
    if current == target:
        return []
    if current == "submitted":
        return ["accepted", target]
    if current in ("accepted", "appealed"):
        return [target]
    return []  # paid / denied corrected by a reversal and a new payment: the status history stays as it is


def post(session, remittance, *, actor, now=None, commit=True):
    """Post the remittance, all or nothing; ValidationFailed with the preview's problems (nothing written).

    commit=False leaves the commit to the caller (an 835 carrying several payments posts them all or none)."""
    result = preview(session, remittance)
    if result.problems:
        session.rollback()
        raise ValidationFailed(result.problems)
    now = now or utcnow()
    try:
        payment = PayerPayment(payer_id=result.payer.id, method=remittance.method,
                               reference=remittance.reference.strip(), paid_date=remittance.paid_date,
                               amount=money(remittance.amount), source=remittance.source or "manual",
                               file_name=(remittance.file_name or None) and remittance.file_name[:255],
                               file_sha256=remittance.file_sha256 or None, posted_at=now,
                               posted_by_fk=actor.id if actor is not None else None)
        session.add(payment)
        for a in remittance.provider_adjustments:  # PLB: why the check differs from the claims it pays
            reference = (getattr(a, "reference", None) or "").strip()[:50] or None
            payment.provider_adjustments.append(ProviderAdjustment(
                reason_code=a.reason, reference=reference, amount=money(a.amount),
                fiscal_period_date=getattr(a, "fiscal_period_date", None)))
        for item in result.claims:
            cp, claim = item.payment, item.claim
            posting = ClaimPosting(payer_payment=payment, claim_id=claim.id, status_code=cp.status_code,
                                   charge=money(cp.charge), paid=money(cp.paid),
                                   patient_responsibility=money(cp.patient_responsibility),
                                   payer_claim_control_number=(cp.payer_claim_control_number or "").strip() or None,
                                   remarks=_join(cp.remarks), posted_at=now)
            posting.claim = claim
            session.add(posting)
            for a in cp.adjustments:
                posting.adjustments.append(PostingAdjustment(group_code=a.group.upper(), reason_code=a.reason.strip(),
                                                             amount=money(a.amount), quantity=a.quantity))
            for lp, line in zip(cp.lines, item.lines):
                lposting = LinePosting(claim_line_id=line.id, paid=money(lp.paid),
                                       allowed=money(lp.allowed) if lp.allowed is not None else None,
                                       remarks=_join(lp.remarks))
                posting.lines.append(lposting)
                for a in lp.adjustments:
                    adj = PostingAdjustment(group_code=a.group.upper(), reason_code=a.reason.strip(),
                                            amount=money(a.amount), quantity=a.quantity)
                    posting.adjustments.append(adj)
                    lposting.adjustments.append(adj)
            if posting.payer_claim_control_number and cp.status_code != REVERSAL:
                claim.payer_claim_control_number = posting.payer_claim_control_number
            session.flush()
            if item.new_status:
                note = "; ".join(item.reasons) if item.new_status == "denied" else None
                for step in _status_path(claim.status, item.new_status):
                    claim_service.transition(session, claim, step, actor=actor, expected_version=claim.version,
                                             note=note if step == item.new_status else None, now=now, commit=False)
                    session.flush()
        if commit:
            commit_or_stale(session)
        else:
            session.flush()
    except IntegrityError:
        session.rollback()
        raise ValidationFailed([("reference", _l("This payment was posted by someone else a moment ago: nothing is "
                                                 "posted twice."))]) from None
    except Exception:
        session.rollback()
        raise
    return payment


# --------------------------------------------------------------------------- patient payments

def _payment_too_much(maximum):
    return _l("A payment cannot be more than %(max)s.", max=maximum)


def post_patient_payment(session, patient, *, amount, method, reference=None, claim=None, actor, now=None,
                         locale="en"):
    """A payment on the patient's account (applied to one claim's balance when `claim` is given)."""
    reference, reference_problems = check_reference(reference)
    value = parse_amount(amount, locale)
    problems = amount_problems(value, amount, locale, maximum=MAX_PATIENT_PAYMENT, too_much=_payment_too_much)
    if method not in PATIENT_PAYMENT_METHODS:
        problems.append(("method", _l("Choose how the patient paid.")))
    problems += reference_problems
    if getattr(patient, "status", None) == "merged":
        problems.append((None, _l("This record was merged into another one: take the payment on the surviving "
                                  "record.")))
    if claim is not None and not isinstance(claim, Claim):
        claim = session.get(Claim, int(claim)) if str(claim).isdigit() else None
        if claim is None:
            problems.append(("claim", _l("Unknown value.")))
    if isinstance(claim, Claim):
        if claim.patient_id != patient.id:
            problems.append(("claim", _l("This claim belongs to another patient.")))
        elif claim.status == "void":
            problems.append(("claim", _l("Claim %(number)s is void: apply the payment to the account instead.",
                                         number=claim.claim_number)))
        elif not problems:
            open_amount = claim_balance(session, claim).balance
            if value > open_amount:
                problems.append(("amount", _l("The payment of %(amount)s is more than the balance of claim %(number)s "
                                              "(%(open)s): apply it to the account instead.", amount=_fmt(value),
                                              number=claim.claim_number, open=_fmt(open_amount))))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    payment = PatientPayment(receipt_number=reserve_receipt_number(session), patient_id=patient.id,
                             claim_id=claim.id if claim is not None else None, amount=money(value), method=method,
                             reference=reference, received_at=now or utcnow(),
                             received_by_fk=actor.id if actor is not None else None, voided=False)
    session.add(payment)
    session.commit()
    return payment


def void_patient_payment(session, payment, *, reason, actor):
    """Mark a patient payment void (entered in error, money given back); it stays on file with its number."""
    return void_receipt(session, payment, reason=reason)


# --------------------------------------------------------------------------- secondary claims

def _net(adjustments):
    """Adjustments summed per group and reason (a reversal cancels what it reverses); zeros dropped."""
    from ..claims import Adjustment

    totals = {}
    for a in adjustments:
        key = (a.group_code, a.reason_code)
        totals[key] = totals.get(key, ZERO) + money(a.amount)
    return [Adjustment(group, reason, amount) for (group, reason), amount in totals.items() if amount != ZERO]


def other_payers(session, claim):
    """What the payers before this claim's coverage did with the same services, for a secondary (or
    tertiary) claim's 2320/2430 loops: ([OtherPayer], {our line number: [LineAdjudication]})."""
    from ..claims import LineAdjudication, OtherPayer, Party

    if claim.coverage is None or claim.coverage.priority <= 1:
        return [], {}
    earlier = [c for c in _live(_family(session, claim))
               if c.id != claim.id and c.coverage.priority < claim.coverage.priority]
    found, by_line = [], {}
    for prior in sorted(earlier, key=lambda c: (c.coverage.priority, c.id)):
        postings = _postings(session, [prior.id])
        if not postings:
            continue
        payer, coverage = prior.payer, prior.coverage
        payer_party = Party(name=payer.name, id_qualifier="PI", id=payer.payer_code,
                            address=claim_service._address(payer.address_line1, payer.address_line2, payer.city,
                                                           payer.state, payer.postal_code))
        claim_level = [a for p in postings for a in p.adjustments if a.line_posting_id is None]
        control = prior.payer_claim_control_number or next(
            (p.payer_claim_control_number for p in reversed(postings) if p.payer_claim_control_number), None)
        found.append(OtherPayer(
            payer=payer_party, subscriber=claim_service._subscriber_party(coverage),
            relationship=claim_service.RELATIONSHIP_CODES.get(coverage.subscriber_relationship, "G8"),
            claim_filing_indicator=payer.claim_filing_indicator, member_group=coverage.group_number,
            paid=sum((money(p.paid) for p in postings), ZERO), adjustments=_net(claim_level),
            payer_claim_control_number=control))
        prior_lines = {ln.id: ln for ln in prior.lines}
        for line in claim.lines:
            match = [lp for p in postings for lp in p.lines
                     if lp.claim_line_id in prior_lines and (
                         (line.charge_line_id is not None
                          and prior_lines[lp.claim_line_id].charge_line_id == line.charge_line_id)
                         or (line.charge_line_id is None
                             and prior_lines[lp.claim_line_id].line_number == line.line_number))]
            if not match:
                continue
            paid_date = max(lp.claim_posting.payer_payment.paid_date for lp in match)
            by_line.setdefault(line.line_number, []).append(LineAdjudication(
                payer_id=payer.payer_code, paid=sum((money(lp.paid) for lp in match), ZERO), code=line.code,
                modifiers=line.modifiers, units=Decimal(line.units), paid_date=paid_date,
                adjustments=_net([a for lp in match for a in lp.adjustments])))
    return found, by_line

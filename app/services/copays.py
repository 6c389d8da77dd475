"""Copays taken at the front desk: record, void, the day's totals. Never a card number.

A receipt number comes from the `counter` table (like MRNs): unique, increasing, never
reused — a voided receipt keeps its number and stays on file, marked void.
"""
import re
from decimal import Decimal, InvalidOperation

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..models.base import utcnow
from ..models.billing import CopayPayment
from ..models.scheduling import Appointment
from .checkdigits import luhn_valid
from . import counters
from .dates import local_day_bounds
from .errors import ValidationFailed

PAYMENT_METHODS = ("cash", "card", "check", "other")  # the CHECK constraint on copay_payment.method
METHOD_LABELS = {"cash": _l("Cash"), "card": _l("Card"), "check": _l("Check"), "other": _l("Other")}
MAX_AMOUNT = Decimal("10000")
REFERENCE_MAX = 40
NOTES_MAX = 1000
VOID_REASON_MAX = 300
RECEIPT_COUNTER = "copay_receipt"
RECEIPT_PREFIX = "R"
RECEIPT_DIGITS = 7

# Digit groups separated by spaces or dashes: "4111 1111 1111 1111", "4111-1111-1111-1111".
_DIGIT_RUN = re.compile(r"\d+(?:[ \t-]+\d+)*")
_SEPARATOR = re.compile(r"[ \t-]+")
CARD_NUMBER_MESSAGE = _l("Do not type card numbers: write the terminal's approval code instead.")


def looks_like_card_number(text):
    """True if `text` holds 13-19 digits in a row (spaces/dashes allowed) that pass the Luhn
    check — what a payment card number looks like. Consecutive digit groups are tried too, so
    a card number followed by its expiry ("4111 1111 1111 1111 1228") is still caught."""
    for run in _DIGIT_RUN.findall(text or ""):
        groups = _SEPARATOR.split(run)
        for i in range(len(groups)):
            digits = ""
            for group in groups[i:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_valid(digits):
                    return True
    return False


def parse_amount(value, locale="en"):
    """The Decimal typed (in the staff member's locale: "20.50", "20,50"), or None if it is no number."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    text = (value or "").strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if not text:
        return None
    try:
        return parse_decimal(text, locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        try:  # "20.50" typed in a locale that writes 20,50: a plain decimal is understood everywhere
            return Decimal(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else None
        except InvalidOperation:
            return None


def amount_problems(amount, raw, locale="en"):
    """Problems with an amount (already parsed; `raw` is what was typed)."""
    example = format_decimal(Decimal("25.00"), format="#,##0.00", locale=locale)
    if amount is None:
        if raw is None or not str(raw).strip():
            return [("amount", _l("This field is required."))]
        return [("amount", _l("Enter the amount as a number, for example %(example)s.", example=example))]
    if not amount.is_finite():
        return [("amount", _l("Enter the amount as a number, for example %(example)s.", example=example))]
    if amount <= 0:
        return [("amount", _l("The amount must be more than zero."))]
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        return [("amount", _l("Enter the amount with at most two decimals (cents)."))]
    if amount > MAX_AMOUNT:
        return [("amount", _l("A copay cannot be more than %(max)s.", max=format_decimal(MAX_AMOUNT, locale=locale)))]
    return []


def _text_problems(field, value, limit):
    if value and len(value) > limit:
        return [(field, _l("Keep this under %(max)d characters.", max=limit))]
    if value and looks_like_card_number(value):
        return [(field, CARD_NUMBER_MESSAGE)]
    return []


def _patient_problems(patient):
    if patient.status == "merged":
        return [(None, _l("This record was merged into another one: collect the copay on the surviving record."))]
    if patient.status == "deceased":
        return [(None, _l("This patient is recorded as deceased: no copay can be collected."))]
    return []


def reserve_receipt_number(session):
    """The next receipt number ("R0000042"), taken in the caller's transaction."""
    return f"{RECEIPT_PREFIX}{counters.take(session, RECEIPT_COUNTER):0{RECEIPT_DIGITS}d}"


def record_copay(session, *, patient, amount, method, reference=None, appointment=None, notes=None, actor,
                 now=None, locale="en"):
    """Record a copay received at the desk and commit; ValidationFailed (nothing written) names every problem.

    `amount` is a Decimal or the text typed (read in `locale`); `appointment` an Appointment or its id.
    """
    reference = (reference or "").strip() or None
    notes = (notes or "").strip() or None
    value = parse_amount(amount, locale)
    problems = _patient_problems(patient) + amount_problems(value, amount, locale)
    if method not in PAYMENT_METHODS:
        problems.append(("method", _l("Choose how the patient paid.")))
    problems += _text_problems("reference", reference, REFERENCE_MAX)
    problems += _text_problems("notes", notes, NOTES_MAX)
    if appointment is not None and not isinstance(appointment, Appointment):
        appointment = session.get(Appointment, int(appointment)) if str(appointment).isdigit() else None
        if appointment is None:
            problems.append(("appointment", _l("Unknown value.")))
    if isinstance(appointment, Appointment) and appointment.patient_id != patient.id:
        problems.append(("appointment", _l("This appointment belongs to another patient.")))
    if problems:
        raise ValidationFailed(problems)
    payment = CopayPayment(
        receipt_number=reserve_receipt_number(session), patient_id=patient.id,
        appointment_id=appointment.id if appointment is not None else None,
        amount=value.quantize(Decimal("0.01")), method=method, reference=reference, notes=notes,
        received_at=now or utcnow(), received_by_fk=actor.id if actor is not None else None, voided=False,
    )
    session.add(payment)
    session.commit()
    return payment


def void_copay(session, payment, *, reason, actor):
    """Mark a receipt void (entered in error, money given back); it stays on file with its number."""
    reason = (reason or "").strip()
    problems = []
    if payment.voided:
        problems.append((None, _l("This receipt is already void.")))
    if not reason:
        problems.append(("reason", _l("Say why the receipt is void.")))
    elif len(reason) > VOID_REASON_MAX:
        problems.append(("reason", _l("Keep this under %(max)d characters.", max=VOID_REASON_MAX)))
    elif looks_like_card_number(reason):
        problems.append(("reason", CARD_NUMBER_MESSAGE))
    if problems:
        raise ValidationFailed(problems)
    payment.voided = True
    payment.void_reason = reason
    session.commit()
    return payment


def expected_copay(session, patient_id, on_date):
    """The copay of the patient's active primary coverage on that date, or None (no coverage,
    self-pay, no copay on file)."""
    from .coverage import active_coverages

    active = active_coverages(session, patient_id, on_date)
    primary = next((c for c in active if c.priority == 1), None)
    return primary.copay if primary is not None else None


def payments_for_patient(session, patient_id, limit=50):
    return session.scalars(select(CopayPayment).where(CopayPayment.patient_id == patient_id)
                           .order_by(CopayPayment.received_at.desc(), CopayPayment.id.desc()).limit(limit)).all()


def day_summary(session, day, tz_name, received_by=None):
    """The day's receipts (void ones included) and the money to hand over, per method.

    Returns (payments, totals {method: Decimal} for every method, total, count of live receipts).
    """
    start, end = local_day_bounds(day, tz_name)
    query = select(CopayPayment).where(CopayPayment.received_at >= start, CopayPayment.received_at < end)
    if received_by is not None:
        query = query.where(CopayPayment.received_by_fk == received_by)
    payments = session.scalars(query.order_by(CopayPayment.received_at, CopayPayment.id)).all()
    totals = {m: Decimal("0.00") for m in PAYMENT_METHODS}
    live = [p for p in payments if not p.voided]
    for p in live:
        totals[p.method] += p.amount
    return payments, totals, sum(totals.values(), Decimal("0.00")), len(live)

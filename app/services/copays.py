"""Copays taken at the front desk: record, void, the day's totals. Never a card number.

The rules copays share with payments on account (no card numbers, amounts, receipt numbers from
the `counter` table, voiding) live in app/services/receipts.py; a voided receipt keeps its number
and stays on file, marked void.
"""
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..models.base import utcnow
from ..models.billing import PAYMENT_METHODS, CopayPayment
from ..models.scheduling import Appointment
from .dates import local_day_bounds
from .errors import ValidationFailed
from .receipts import (  # noqa: F401 - also imported from here (views, purchasing, reports, tests)
    CARD_NUMBER_MESSAGE,
    RECEIPT_COUNTER,
    amount_problems,
    check_reference,
    looks_like_card_number,
    parse_amount,
    reserve_receipt_number,
    text_problems,
    void_receipt,
)

METHOD_LABELS = {"cash": _l("Cash"), "card": _l("Card"), "check": _l("Check"), "other": _l("Other")}
MAX_AMOUNT = Decimal("10000")
NOTES_MAX = 1000


def _too_much(maximum):
    return _l("A copay cannot be more than %(max)s.", max=maximum)


def _patient_problems(patient):
    if patient.status == "merged":
        return [(None, _l("This record was merged into another one: collect the copay on the surviving record."))]
    if patient.status == "deceased":
        return [(None, _l("This patient is recorded as deceased: no copay can be collected."))]
    return []


def record_copay(session, *, patient, amount, method, reference=None, appointment=None, notes=None, actor,
                 now=None, locale="en"):
    """Record a copay received at the desk and commit; ValidationFailed (nothing written) names every problem.

    `amount` is a Decimal or the text typed (read in `locale`); `appointment` an Appointment or its id.
    """
    reference, reference_problems = check_reference(reference)
    notes = (notes or "").strip() or None
    value = parse_amount(amount, locale)
    problems = _patient_problems(patient) + amount_problems(value, amount, locale, maximum=MAX_AMOUNT,
                                                            too_much=_too_much)
    if method not in PAYMENT_METHODS:
        problems.append(("method", _l("Choose how the patient paid.")))
    problems += reference_problems
    problems += text_problems("notes", notes, NOTES_MAX)
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
    return void_receipt(session, payment, reason=reason)


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

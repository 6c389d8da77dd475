"""Eligibility checks: one verification of a coverage for a date of service.

Recorded by hand (phone, payer portal) through record_check(), or as an X12 270 that goes
out "pending" and is answered by a 271 (app/services/x12_eligibility.py). The schedule shows
the latest check of each appointment's patient for that day (status_for_appointments: one query).
"""
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..models import Appointment
from ..models.base import utcnow
from ..models.billing import ELIGIBILITY_RESULTS, Coverage, EligibilityCheck
from ..models.scheduling import INACTIVE_STATUSES
from .errors import ValidationFailed
from .dates import local_day_bounds

MANUAL_METHODS = ("phone", "portal")
METHOD_LABELS = {"phone": _l("Phone"), "portal": _l("Payer portal"), "x12": _l("X12 270/271")}
RESULT_LABELS = {"active": _l("Active"), "inactive": _l("Inactive"), "unknown": _l("Unknown"),
                 "error": _l("Error"), "pending": _l("Pending")}
NOTES_MAX = 1000
REFERENCE_MAX = 80
MONEY_MAX = Decimal("100000000")
MONEY_FIELDS = ("copay", "deductible_remaining", "out_of_pocket_remaining")


def parse_money(raw, field, problems):
    """A non-negative amount with at most two decimals, or None when blank; problems collected."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        problems.append((field, _l("Write an amount such as 25.00.")))
        return None
    if not value.is_finite():
        problems.append((field, _l("Write an amount such as 25.00.")))
    elif value < 0:
        problems.append((field, _l("The amount cannot be negative.")))
    elif value != value.quantize(Decimal("0.01")):
        problems.append((field, _l("At most two decimals.")))
    elif value >= MONEY_MAX:
        problems.append((field, _l("The amount is too large.")))
    else:
        return value.quantize(Decimal("0.01"))
    return None


def in_force(coverage, on_date):
    """True when the coverage is active (not voided) and covers `on_date`."""
    return (coverage.status == "active" and coverage.effective_date <= on_date
            and (coverage.end_date is None or coverage.end_date >= on_date))


def _text(value):
    value = (value or "").strip()
    return value or None


def record_check(session, *, coverage, service_date, method, result, copay=None, deductible_remaining=None,
                 out_of_pocket_remaining=None, notes=None, reference=None, appointment=None, actor=None):
    """Record a phone or portal verification; every problem at once, nothing written on error."""
    problems = []
    amounts = {name: parse_money(value, name, problems) for name, value in (
        ("copay", copay), ("deductible_remaining", deductible_remaining),
        ("out_of_pocket_remaining", out_of_pocket_remaining))}
    notes, reference = _text(notes), _text(reference)
    if coverage is None:
        problems.append(("coverage", _l("Choose the coverage that was checked.")))
    elif coverage.status != "active":
        problems.append(("coverage", _l("This coverage was voided: it cannot be checked.")))
    elif coverage.self_pay:
        problems.append(("coverage", _l("A self-pay coverage has no insurer to check.")))
    if service_date is None:
        problems.append(("service_date", _l("Give the date of service.")))
    elif coverage is not None and coverage.status == "active" and not in_force(coverage, service_date):
        problems.append(("service_date", _l("The coverage is not in force on that date.")))
    if method not in MANUAL_METHODS:
        problems.append(("method", _l("Choose how the coverage was checked.")))
    if result not in ELIGIBILITY_RESULTS:
        problems.append(("result", _l("Choose the result of the check.")))
    if notes and len(notes) > NOTES_MAX:
        problems.append(("notes", _l("At most %(max)d characters.", max=NOTES_MAX)))
    if reference and len(reference) > REFERENCE_MAX:
        problems.append(("reference", _l("At most %(max)d characters.", max=REFERENCE_MAX)))
    if appointment is not None and coverage is not None and appointment.patient_id != coverage.patient_id:
        problems.append((None, _l("The appointment is not this patient's.")))
    if problems:
        raise ValidationFailed(problems)
    check = EligibilityCheck(
        coverage_id=coverage.id, patient_id=coverage.patient_id,
        appointment_id=appointment.id if appointment is not None else None, service_date=service_date,
        method=method, result=result, notes=notes, reference=reference, checked_at=utcnow(),
        checked_by_fk=getattr(actor, "id", None), **amounts)
    session.add(check)
    session.commit()
    return check


def service_date_of(appointment):
    """An appointment's date of service: its local (wall-clock) date at its location."""
    return appointment.start_local.date()


def status_for_appointments(session, appointments):
    """{appointment id: the latest check of its patient for its date (of an active coverage) or None}.

    One query for the whole page, whatever the number of appointments.
    """
    appointments = list(appointments)
    result = {a.id: None for a in appointments}
    if not appointments:
        return result
    patients = {a.patient_id for a in appointments}
    days = {service_date_of(a) for a in appointments}
    rows = session.scalars(
        select(EligibilityCheck).join(Coverage, Coverage.id == EligibilityCheck.coverage_id)
        .where(EligibilityCheck.patient_id.in_(patients), EligibilityCheck.service_date.in_(days),
               Coverage.status == "active")
        .order_by(EligibilityCheck.checked_at.desc(), EligibilityCheck.id.desc()))
    latest = {}
    for check in rows:
        latest.setdefault((check.patient_id, check.service_date), check)
    for a in appointments:
        result[a.id] = latest.get((a.patient_id, service_date_of(a)))
    return result


def insured_appointments(session, appointments):
    """Ids of the appointments whose patient has an insurance (not self-pay) in force that day (one query)."""
    appointments = list(appointments)
    if not appointments:
        return set()
    days = [service_date_of(a) for a in appointments]
    rows = session.execute(
        select(Coverage.patient_id, Coverage.effective_date, Coverage.end_date)
        .where(Coverage.patient_id.in_({a.patient_id for a in appointments}), Coverage.status == "active",
               Coverage.self_pay.is_(False), Coverage.effective_date <= max(days),
               (Coverage.end_date.is_(None)) | (Coverage.end_date >= min(days)))).all()
    return {a.id for a, day in zip(appointments, days)
            if any(r.patient_id == a.patient_id and r.effective_date <= day and (r.end_date is None or r.end_date >= day)
                   for r in rows)}


def latest_for(session, coverage, service_date):
    """The latest check of `coverage` for `service_date`, or None."""
    return session.scalar(
        select(EligibilityCheck).where(EligibilityCheck.coverage_id == coverage.id,
                                       EligibilityCheck.service_date == service_date)
        .order_by(EligibilityCheck.checked_at.desc(), EligibilityCheck.id.desc()).limit(1))


def is_verified(check):
    """A check that got an answer (not a 270 still waiting for its 271)."""
    return check is not None and check.result != "pending"


def appointments_on(session, location, day):
    """The day's (local) appointments at `location` that still happen (not cancelled, no-show), by time."""
    start, end = local_day_bounds(day, location.timezone)
    return list(session.scalars(
        select(Appointment).where(Appointment.location_id == location.id, Appointment.start_at >= start,
                                  Appointment.start_at < end, Appointment.status.notin_(INACTIVE_STATUSES))
        .options(joinedload(Appointment.patient), joinedload(Appointment.provider))
        .order_by(Appointment.start_at, Appointment.id)).unique())


def unchecked(session, appointments):
    """The appointments whose patient has no check yet for that day (the 270's batch)."""
    status = status_for_appointments(session, appointments)
    return [a for a in appointments if status[a.id] is None]

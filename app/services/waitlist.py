"""Waitlist: patients who want an earlier (or any) slot, matched to time that frees up.

Booking from the waitlist goes through scheduling.book() (the one booking door); the
entry is marked booked in the booking's own transaction, so a refused booking leaves it
as it was.
"""
from datetime import date, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ..models import AppointmentType, Location, Patient, Provider
from ..models.base import utcnow
from ..models.scheduling import PARTS_OF_DAY, WaitlistEntry
from . import scheduling
from .errors import StaleRecordError, ValidationFailed, commit_or_stale

NOON = time(12, 0)
NOTE_MAX = 300
OPEN_STATUSES = ("waiting", "offered")
PART_OF_DAY_LABELS = {"any": _l("Any time"), "morning": _l("Morning"), "afternoon": _l("Afternoon")}
STATUS_LABELS = {"waiting": _l("waiting"), "offered": _l("offered"), "booked": _l("booked"),
                 "removed": _l("removed")}


def fits_part_of_day(part_of_day, start_local):
    """Morning = starts before 12:00 local, afternoon = from 12:00, any = always."""
    if part_of_day == "morning":
        return start_local.time() < NOON
    if part_of_day == "afternoon":
        return start_local.time() >= NOON
    return True


def matches_for_freed(session, appointment, *, include_offered=False):
    """Waiting entries that could take the time `appointment` freed (oldest first).

    An entry fits when its type is the appointment's (or its type's default duration fits in
    the freed time), its provider and location are unset or the same, the freed local date is
    inside its window, the start fits its part of day, and it is not the same patient's.
    With `include_offered`, entries already offered this very slot are listed too.
    """
    day = appointment.start_local.date()
    status = WaitlistEntry.status == "waiting"
    if include_offered:
        status = or_(status, and_(WaitlistEntry.status == "offered",
                                  WaitlistEntry.offered_start_at == appointment.start_at))
    stmt = (
        select(WaitlistEntry)
        .join(AppointmentType, WaitlistEntry.type_id == AppointmentType.id)
        .where(
            status,
            or_(WaitlistEntry.type_id == appointment.type_id,
                AppointmentType.default_duration <= appointment.duration_minutes),
            or_(WaitlistEntry.provider_id.is_(None), WaitlistEntry.provider_id == appointment.provider_id),
            or_(WaitlistEntry.location_id.is_(None), WaitlistEntry.location_id == appointment.location_id),
            WaitlistEntry.earliest_date <= day,
            WaitlistEntry.latest_date >= day,
            WaitlistEntry.patient_id != appointment.patient_id,
        )
        .options(joinedload(WaitlistEntry.patient), joinedload(WaitlistEntry.type))
        .order_by(WaitlistEntry.created_on, WaitlistEntry.id)
    )
    return [entry for entry in session.scalars(stmt).unique()
            if fits_part_of_day(entry.part_of_day, appointment.start_local)]


def open_entries(session, *, type_id=None, provider_id=None, patient_id=None):
    """Entries still waiting or offered, oldest first (optionally of one type / provider / patient)."""
    stmt = (select(WaitlistEntry).where(WaitlistEntry.status.in_(OPEN_STATUSES))
            .options(joinedload(WaitlistEntry.patient), joinedload(WaitlistEntry.type),
                     joinedload(WaitlistEntry.provider), joinedload(WaitlistEntry.location))
            .order_by(WaitlistEntry.created_on, WaitlistEntry.id))
    if type_id is not None:
        stmt = stmt.where(WaitlistEntry.type_id == type_id)
    if provider_id is not None:
        stmt = stmt.where(WaitlistEntry.provider_id == provider_id)
    if patient_id is not None:
        stmt = stmt.where(WaitlistEntry.patient_id == patient_id)
    return list(session.scalars(stmt).unique())


def for_patient(session, patient):
    """A patient's entries, newest first, without the removed ones."""
    stmt = (select(WaitlistEntry).where(WaitlistEntry.patient_id == patient.id,
                                        WaitlistEntry.status != "removed")
            .order_by(WaitlistEntry.created_on.desc(), WaitlistEntry.id.desc()))
    return list(session.scalars(stmt))


def add_entry(session, *, patient, type, provider=None, location=None, earliest_date, latest_date,
              part_of_day="any", note=None, today=None):
    """Put a patient on the waitlist; every problem is reported at once and nothing is written."""
    problems = []
    objs = {}
    for field, model, value, required in (("patient", Patient, patient, True), ("type", AppointmentType, type, True),
                                          ("provider", Provider, provider, False),
                                          ("location", Location, location, False)):
        obj = scheduling.resolve(session, model, value)
        if obj is None and (value is not None or required):
            problems.append((field, _l("Unknown value.") if value is not None else _l("This field is required.")))
        elif obj is not None and field != "patient" and not obj.active:
            problems.append(scheduling.inactive_problem(field, obj))
        objs[field] = obj
    patient, kind, provider = objs["patient"], objs["type"], objs["provider"]
    if patient is not None and patient.status == "merged":
        problems.append(("patient", _l("This record was merged; use the surviving record.")))
    elif patient is not None and patient.status == "deceased":
        problems.append(("patient", _l("This patient is deceased.")))
    if provider is not None and kind is not None and provider.appointment_types \
            and kind not in provider.appointment_types:
        problems.append(("type", _l("%(provider)s does not take “%(type)s” appointments.",
                                    provider=provider.display_name, type=kind.name)))
    today = today or date.today()
    for field, value in (("earliest_date", earliest_date), ("latest_date", latest_date)):
        if not isinstance(value, date):
            problems.append((field, _l("This field is required.")))
    if isinstance(earliest_date, date) and earliest_date < today:
        problems.append(("earliest_date", _l("The earliest date is in the past.")))
    if isinstance(earliest_date, date) and isinstance(latest_date, date) and latest_date < earliest_date:
        problems.append(("latest_date", _l("The latest date must not be before the earliest date.")))
    if part_of_day not in PARTS_OF_DAY:
        problems.append(("part_of_day", _l("Unknown value.")))
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        problems.append(("note", _l("At most %(max)d characters.", max=NOTE_MAX)))
    if problems:
        raise ValidationFailed(problems)
    entry = WaitlistEntry(patient_id=patient.id, type_id=kind.id, provider_id=provider.id if provider else None,
                          location_id=objs["location"].id if objs["location"] else None,
                          earliest_date=earliest_date, latest_date=latest_date, part_of_day=part_of_day,
                          note=note, status="waiting")
    session.add(entry)
    session.commit()
    return entry


def _check_open(session, entry, expected_version):
    if entry.status not in OPEN_STATUSES:
        raise ValidationFailed([("status", _l("This waitlist entry is %(status)s: nothing was changed.",
                                              status=STATUS_LABELS.get(entry.status, entry.status)))])
    if expected_version is not None and entry.version != expected_version:
        session.rollback()
        raise StaleRecordError()


def offer(session, entry, appointment_or_slot, *, expected_version, now=None):
    """Record that the patient was offered a slot (a freed appointment or a scheduling.Slot)."""
    _check_open(session, entry, expected_version)
    entry.status = "offered"
    entry.offered_at = now or utcnow()
    entry.offered_start_at = appointment_or_slot.start_at
    commit_or_stale(session)
    return entry


def book_from_waitlist(session, entry, *, provider, location, expected_version, start_local=None, start_at=None,
                       room=None, duration=None, reason=None, telehealth_url=None, actor=None, now=None):
    """Book the entry's patient and type through scheduling.book() and mark the entry booked.

    The entry's change rides in the booking's transaction: a refused booking
    (ValidationFailed, AppointmentConflictError, StaleRecordError) leaves it unchanged.
    """
    _check_open(session, entry, expected_version)
    entry.status = "booked"  # committed by book() together with the appointment
    try:
        appointment = scheduling.book(
            session, patient=entry.patient_id, provider=provider, location=location, type=entry.type_id,
            start_local=start_local, start_at=start_at, room=room, duration=duration, reason=reason,
            telehealth_url=telehealth_url, actor=actor, now=now)
    except StaleDataError:
        session.rollback()
        raise StaleRecordError() from None
    except BaseException:
        session.rollback()
        raise
    entry.appointment_id = appointment.id
    commit_or_stale(session)
    return appointment


def remove(session, entry, *, expected_version):
    """Take a waiting or offered entry off the waitlist (kept, with status "removed")."""
    _check_open(session, entry, expected_version)
    entry.status = "removed"
    commit_or_stale(session)
    return entry

"""Scheduling rules: booking, moving, cancelling, status workflow, series, free slots.

Every door (calendar, form, API, import) books through these functions. They gather
every problem at once (ValidationFailed); a clash with another active appointment is
an AppointmentConflictError naming what clashes, whether this code found it or the
database's own overlap guard did (a concurrent request that lost the race).
"""
import re
import uuid
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import current_app, has_app_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..models import Appointment, AppointmentStatusChange, AppointmentType, Location, Patient, Provider, Room
from ..models.base import utcnow
from ..models.scheduling import (
    INACTIVE_STATUSES,
    OVERLAP_KEYS,
    OVERLAP_MESSAGE,
    STATUS_LABELS,
    ProviderException,
    ProviderHours,
)
from . import audit
from .errors import DomainError, StaleRecordError, ValidationFailed, commit_or_stale

MAX_DURATION = 24 * 60  # minutes
MAX_OCCURRENCES = 104
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

# The status workflow: which status may follow which (anything else is refused).
TRANSITIONS = {
    "booked": {"confirmed", "arrived", "cancelled", "no_show"},
    "confirmed": {"arrived", "cancelled", "no_show"},
    "arrived": {"in_room"},
    "in_room": {"completed"},
    "completed": {"checked_out"},
    "checked_out": set(),
    "cancelled": set(),
    "no_show": set(),
}

CONFLICT_MESSAGES = {
    "provider": lambda when: _l("The provider is already booked at %(time)s.", time=when),
    "room": lambda when: _l("The room is already booked at %(time)s.", time=when),
    "patient": lambda when: _l("The patient already has an appointment at %(time)s.", time=when),
}


class AppointmentConflictError(DomainError):
    """The time is taken: `conflicts` lists (kind, appointment id or None, local start, message)."""

    status_code = 409
    default_message = _l("This time is already taken.")

    def __init__(self, conflicts):
        self.conflicts = list(conflicts)
        super().__init__()

    @property
    def messages(self):
        return [c.message for c in self.conflicts]

    def __str__(self):
        return "; ".join(str(m) for m in self.messages) or str(self.message)


@dataclass
class Conflict:
    kind: str  # provider / room / patient
    appointment_id: int | None
    start_local: datetime
    message: object


@dataclass
class Slot:
    start_at: datetime
    end_at: datetime
    start_local: datetime
    location_id: int


# --------------------------------------------------------------------------- time

def zone(name):
    """The ZoneInfo for an IANA name, or None if there is no such zone."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_to_utc(start_local, tz_name):
    """The UTC instant of a wall-clock time in `tz_name`; None if the clocks skip it (DST gap).

    A time that happens twice (clocks go back) is the first of the two.
    """
    tz = ZoneInfo(tz_name)
    aware = start_local.replace(tzinfo=tz, fold=0)
    instant = aware.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) != start_local:
        return None
    return instant


def utc_to_local(instant, tz_name):
    return instant.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None)


def _show(local, tz_name):
    """A local time for a message, in the user's language."""
    try:
        locale = str(get_locale() or "en")
    except Exception:  # outside a request and app context
        locale = "en"
    return format_datetime(local.replace(tzinfo=ZoneInfo(tz_name)), "short", tzinfo=ZoneInfo(tz_name),
                           locale=locale)


def _config(name, default):
    return current_app.config.get(name, default) if has_app_context() else default


# --------------------------------------------------------------------------- reference data

def check_timezone(name):
    """Problems with a location's time zone name (an IANA name such as America/New_York)."""
    return [] if zone(name) else [("timezone", _l("Unknown time zone."))]


def check_colour(value, field="colour"):
    return [] if value is None or COLOUR_RE.match(value) else [(field, _l("Write the colour as #rrggbb."))]


def add_location(session, *, name, timezone, address=None, active=True):
    """Create a location after checking its time zone."""
    problems = check_timezone(timezone) + ([] if name else [("name", _l("This field is required."))])
    if problems:
        raise ValidationFailed(problems)
    location = Location(name=name, timezone=timezone, address=address, active=active)
    session.add(location)
    session.commit()
    return location


def add_type(session, *, name, default_duration, colour="#3a87ad", new_patient=False, telehealth=False):
    """Create an appointment type after checking its duration and colour."""
    problems = check_duration(default_duration, "default_duration") + check_colour(colour)
    if not name:
        problems.append(("name", _l("This field is required.")))
    if problems:
        raise ValidationFailed(problems)
    kind = AppointmentType(name=name, default_duration=default_duration, colour=colour,
                           new_patient=new_patient, telehealth=telehealth)
    session.add(kind)
    session.commit()
    return kind


def set_hours(session, *, provider, location, weekday, start, end, valid_from=None, valid_to=None):
    """Add a weekly working block (local wall-clock times at `location`)."""
    problems = []
    if not isinstance(weekday, int) or not 0 <= weekday <= 6:
        problems.append(("weekday", _l("Unknown value.")))
    if not isinstance(start, time) or not isinstance(end, time):
        problems.append(("start", _l("This field is required.")))
    elif end <= start:
        problems.append(("end", _l("The end must be after the start.")))
    if valid_from and valid_to and valid_to < valid_from:
        problems.append(("valid_to", _l("The end must be after the start.")))
    if problems:
        raise ValidationFailed(problems)
    hours = ProviderHours(provider_id=provider.id, location_id=location.id, weekday=weekday, start_time=start,
                          end_time=end, valid_from=valid_from, valid_to=valid_to)
    session.add(hours)
    session.commit()
    return hours


def add_exception(session, *, provider, start_at, end_at, kind, reason=None):
    """Mark a provider as away (leave, holiday) or blocked between two UTC instants."""
    problems = []
    if kind not in ("leave", "holiday", "blocked"):
        problems.append(("kind", _l("Unknown value.")))
    if start_at is None or end_at is None or start_at.tzinfo is None or end_at.tzinfo is None:
        problems.append(("start_at", _l("This field is required.")))
    elif end_at <= start_at:
        problems.append(("end_at", _l("The end must be after the start.")))
    if problems:
        raise ValidationFailed(problems)
    item = ProviderException(provider_id=provider.id, start_at=start_at, end_at=end_at, kind=kind, reason=reason)
    session.add(item)
    session.commit()
    return item


# --------------------------------------------------------------------------- checks

def check_duration(minutes, field="duration"):
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_DURATION:
        return [(field, _l("The duration must be between 1 and %(max)d minutes.", max=MAX_DURATION))]
    return []


def resolve(session, model, value):
    """An object from an object or an id; None if there is no such row."""
    if value is None or isinstance(value, model):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return session.get(model, value)
    return None


def inactive_problem(field, item):
    return (field, _l("“%(name)s” is inactive.", name=str(item)))


def within_hours(session, provider_id, location, start_at, end_at):
    """True if [start_at, end_at) lies inside one weekly block at `location` (local wall-clock)."""
    start_local = utc_to_local(start_at, location.timezone)
    end_local = utc_to_local(end_at, location.timezone)
    day = start_local.date()
    if end_local.date() != day and end_local != datetime.combine(day + timedelta(days=1), time()):
        return False
    for block in _hours_on(session, provider_id, location.id, day):
        block_end = datetime.combine(day, block.end_time)
        if datetime.combine(day, block.start_time) <= start_local and end_local <= block_end:
            return True
    return False


def _hours_on(session, provider_id, location_id, day):
    stmt = select(ProviderHours).where(
        ProviderHours.provider_id == provider_id, ProviderHours.weekday == day.weekday(),
        or_(ProviderHours.valid_from.is_(None), ProviderHours.valid_from <= day),
        or_(ProviderHours.valid_to.is_(None), ProviderHours.valid_to >= day),
    )
    if location_id is not None:
        stmt = stmt.where(ProviderHours.location_id == location_id)
    return list(session.scalars(stmt.order_by(ProviderHours.start_time)))


def _exceptions(session, provider_id, start_at, end_at):
    return list(session.scalars(select(ProviderException).where(
        ProviderException.provider_id == provider_id,
        ProviderException.start_at < end_at, ProviderException.end_at > start_at)))


def _active():
    return Appointment.status.notin_(INACTIVE_STATUSES)


def overlapping(start_at, end_at):
    """Appointments overlapping [start_at, end_at). No booking lasts over MAX_DURATION, so the
    lower bound on start_at lets the (key, start_at) index read only the range, not all history."""
    return (Appointment.start_at < end_at, Appointment.start_at > start_at - timedelta(minutes=MAX_DURATION),
            Appointment.end_at > start_at)


def find_conflicts(session, *, provider_id, room_id, patient_id, start_at, end_at, exclude_id=None):
    """Active appointments overlapping [start_at, end_at) for the provider, room or patient."""
    conflicts = []
    for kind, key in (("provider", provider_id), ("room", room_id), ("patient", patient_id)):
        if key is None:
            continue
        stmt = select(Appointment).where(
            getattr(Appointment, f"{kind}_id") == key, _active(),
            *overlapping(start_at, end_at))
        if exclude_id is not None:
            stmt = stmt.where(Appointment.id != exclude_id)
        for other in session.scalars(stmt.order_by(Appointment.start_at)):
            conflicts.append(Conflict(kind, other.id, other.start_local,
                                      CONFLICT_MESSAGES[kind](_show(other.start_local, other.timezone))))
    return conflicts


def _check_booking(session, *, patient, provider, location, kind, room, start_at, end_at, now,
                   exclude_id=None):
    """Every rule of a booking except conflicts; returns the problems found."""
    problems = []
    if patient.status == "merged":
        problems.append(("patient", _l("This record was merged; book on the surviving record.")))
    elif patient.status == "deceased":
        problems.append(("patient", _l("This patient is deceased.")))
    for field, item in (("provider", provider), ("location", location), ("type", kind), ("room", room)):
        if item is not None and not item.active:
            problems.append(inactive_problem(field, item))
    if room is not None and room.location_id != location.id:
        problems.append(("room", _l("This room is at another location.")))
    if provider.appointment_types and kind not in provider.appointment_types:
        problems.append(("type", _l("%(provider)s does not take “%(type)s” appointments.",
                                    provider=provider.display_name, type=kind.name)))
    if start_at is None:
        return problems
    if start_at < now and not _config("SCHEDULING_ALLOW_PAST", False):
        problems.append(("start", _l("The start is in the past.")))
    if not within_hours(session, provider.id, location, start_at, end_at):
        problems.append(("start", _l("This is outside the provider's working hours at this location.")))
    if _exceptions(session, provider.id, start_at, end_at):
        problems.append(("start", _l("The provider is away or blocked at that time.")))
    return problems


def _start(location, start_local, start_at, problems):
    """(start_at, start_local) from one of the two; problems are appended."""
    if (start_local is None) == (start_at is None):
        problems.append(("start", _l("This field is required.")))
        return None, None
    if start_at is not None:
        if not isinstance(start_at, datetime) or start_at.tzinfo is None:
            problems.append(("start", _l("This field is required.")))
            return None, None
        start_at = start_at.astimezone(timezone.utc)
        return start_at, utc_to_local(start_at, location.timezone)
    if not isinstance(start_local, datetime) or start_local.tzinfo is not None:
        problems.append(("start", _l("This field is required.")))
        return None, None
    instant = local_to_utc(start_local, location.timezone)
    if instant is None:
        problems.append(("start", _l("%(time)s does not exist in %(zone)s: the clocks change that night.",
                                     time=start_local.strftime("%Y-%m-%d %H:%M"), zone=location.timezone)))
    return instant, start_local


def _who(actor):
    return actor.id if actor is not None else audit.actor()["user_id"]


def _record_status(session, appointment, old, new, actor):
    session.add(AppointmentStatusChange(appointment=appointment, from_status=old, to_status=new,
                                        changed_at=utcnow(), changed_by_fk=_who(actor)))


def overlap_kind(exc):
    """'provider', 'room' or 'patient' if `exc` is the database refusing an overlap, else None."""
    orig = getattr(exc, "orig", exc)
    name = getattr(getattr(orig, "diag", None), "constraint_name", None) or ""
    text = str(orig)
    for kind in OVERLAP_KEYS:
        if name == f"ex_appointment_{kind}_overlap" or f"{OVERLAP_MESSAGE}{kind}" in text:
            return kind
    return None


def _translate_race(session, exc, plan):
    """After the database refused an overlap: roll back and name what the winner booked."""
    session.rollback()
    kind = overlap_kind(exc)
    if kind is None:
        raise exc
    conflicts = []
    for item in plan:
        conflicts += find_conflicts(session, **item)
    return AppointmentConflictError(conflicts or [Conflict(kind, None, None, CONFLICT_MESSAGES[kind]("—"))])


def _commit(session, plans=()):
    """Commit; a concurrent change becomes StaleRecordError, the database refusing an overlap
    an AppointmentConflictError naming the clashes of `plans` (find_conflicts arguments)."""
    try:
        commit_or_stale(session)
    except IntegrityError as exc:
        if not plans:
            raise
        raise _translate_race(session, exc, list(plans)) from None


# --------------------------------------------------------------------------- booking

def _prepare(session, *, patient, provider, location, type, start_local, start_at, duration, room,
             now, exclude_id=None):
    """Resolve and check one booking; returns a dict of row values or raises ValidationFailed."""
    problems = []
    objs = {}
    for field, model, value in (("patient", Patient, patient), ("provider", Provider, provider),
                                ("location", Location, location), ("type", AppointmentType, type),
                                ("room", Room, room)):
        obj = resolve(session, model, value)
        if obj is None and (value is not None or field != "room"):
            problems.append((field, _l("Unknown value.") if value is not None else _l("This field is required.")))
        objs[field] = obj
    if duration is None and objs["type"] is not None:
        duration = objs["type"].default_duration
    if duration is not None or objs["type"] is not None:  # else the type's problem says it all
        problems += check_duration(duration)
    if problems:  # nothing more can be checked without these
        raise ValidationFailed(problems)
    location = objs["location"]
    start_at, start_local = _start(location, start_local, start_at, problems)
    end_at = start_at + timedelta(minutes=duration) if start_at is not None else None
    problems += _check_booking(session, patient=objs["patient"], provider=objs["provider"], location=location,
                               kind=objs["type"], room=objs["room"], start_at=start_at, end_at=end_at,
                               now=now or utcnow(), exclude_id=exclude_id)
    if problems:
        raise ValidationFailed(problems)
    return dict(patient_id=objs["patient"].id, provider_id=objs["provider"].id, location_id=location.id,
                room_id=objs["room"].id if objs["room"] else None, type_id=objs["type"].id,
                start_at=start_at, end_at=end_at, start_local=start_local, timezone=location.timezone)


def _conflict_query(values, exclude_id=None):
    return dict(provider_id=values["provider_id"], room_id=values["room_id"], patient_id=values["patient_id"],
                start_at=values["start_at"], end_at=values["end_at"], exclude_id=exclude_id)


def _audit_overbook(session, appointment, conflicts):
    """Record an approved overbook in the audit trail, in the booking's transaction."""
    audit.append(session.connection(), action="overbook", object_type="Appointment", object_id=appointment.id,
                 patient_id=appointment.patient_id,
                 details={"reason": appointment.overbook_reason,
                          "overlaps": sorted({c.appointment_id for c in conflicts})})


def _check_overbook(overbook_reason, may_overbook):
    if overbook_reason is None:
        return
    problems = []
    if not may_overbook:
        problems.append(("overbook_reason", _l("You are not allowed to overbook.")))
    elif not str(overbook_reason).strip():
        problems.append(("overbook_reason", _l("This field is required.")))
    if problems:
        raise ValidationFailed(problems)


def telehealth_link(kind, given=None):
    """The join link of a telehealth visit: the one given, or one made from TELEHEALTH_URL_TEMPLATE
    ("https://video.example.org/{token}"); None for an in-person type. Raises ValidationFailed
    when a telehealth visit has no link and none can be made."""
    given = (given or "").strip() or None
    if not kind.telehealth:
        return None
    if given is None and _config("TELEHEALTH_URL_TEMPLATE", None):
        given = _config("TELEHEALTH_URL_TEMPLATE", None).format(token=uuid.uuid4().hex)
    if given is None or not re.match(r"^https://\S+$", given) or len(given) > 500:
        raise ValidationFailed([("telehealth_url", _l("A telehealth visit needs its https:// join link."))])
    return given


def _visit_details(session, values, reason, telehealth_url):
    kind = session.get(AppointmentType, values["type_id"])
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > 300:
        raise ValidationFailed([("reason", _l("At most %(max)d characters.", max=300))])
    return dict(reason=reason, telehealth_url=telehealth_link(kind, telehealth_url))


def _authorization_warnings(session, appointments):
    """Set `authorization_warnings` (translated messages, [] when none) on each booked or moved appointment:
    its type needs a prior authorization with the patient's payer that day and none is valid
    (app/services/authorizations.booking_warnings). A warning only: the booking stands."""
    from .authorizations import booking_warnings

    for appointment in appointments:
        appointment.authorization_warnings = booking_warnings(session, appointment)
    return appointments


def book(session, *, patient, provider, location, type, start_local=None, start_at=None, duration=None,
         room=None, reason=None, telehealth_url=None, overbook_reason=None, may_overbook=False, actor=None,
         now=None):
    """Book one appointment; raises ValidationFailed or AppointmentConflictError and changes nothing.

    `start_local` is a naive wall-clock time at the location; `start_at` a UTC instant.
    With `overbook_reason` (and `may_overbook`, the caller's permission check) a clash
    is accepted as an audited overbook.
    """
    _check_overbook(overbook_reason, may_overbook)
    values = _prepare(session, patient=patient, provider=provider, location=location, type=type,
                      start_local=start_local, start_at=start_at, duration=duration, room=room, now=now)
    details = _visit_details(session, values, reason, telehealth_url)
    conflicts = find_conflicts(session, **_conflict_query(values))
    if conflicts and overbook_reason is None:
        session.rollback()
        raise AppointmentConflictError(conflicts)
    appointment = Appointment(status="booked", **values, **details)
    if conflicts:  # an approved overbook: the database's overlap guard lets it through
        appointment.overbook = True
        appointment.overbook_reason = str(overbook_reason).strip()[:300]
        appointment.overbook_by_fk = _who(actor)
    session.add(appointment)
    try:
        _record_status(session, appointment, None, "booked", actor)
        session.flush()
        if conflicts:
            _audit_overbook(session, appointment, conflicts)
        session.commit()
    except IntegrityError as exc:
        raise _translate_race(session, exc, [_conflict_query(values)]) from None
    _authorization_warnings(session, [appointment])
    return appointment


def reschedule(session, appointment, *, expected_version, start_local=None, start_at=None, duration=None,
               provider=None, location=None, room=None, actor=None, now=None):
    """Move an active appointment (same checks as a booking); keeps its id and history."""
    if not appointment.is_active or appointment.status not in ("booked", "confirmed"):
        raise ValidationFailed([("status", _l("An appointment that is %(current)s cannot be moved.",
                                              current=STATUS_LABELS[appointment.status]))])
    if duration is None:
        duration = appointment.duration_minutes
    values = _prepare(session, patient=appointment.patient, provider=provider or appointment.provider,
                      location=location or appointment.location, type=appointment.type, start_local=start_local,
                      start_at=start_at, duration=duration, room=room if room is not None else appointment.room,
                      now=now, exclude_id=appointment.id)
    query = _conflict_query(values, exclude_id=appointment.id)
    conflicts = find_conflicts(session, **query)
    if conflicts:
        session.rollback()
        raise AppointmentConflictError(conflicts)
    if appointment.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    for key, value in values.items():
        setattr(appointment, key, value)
    appointment.overbook, appointment.overbook_reason, appointment.overbook_by_fk = False, None, None
    _commit(session, [query])
    _authorization_warnings(session, [appointment])
    return appointment


def _transition_problems(appointment, status):
    """[(field, message)] if the workflow (TRANSITIONS) does not allow `status` next."""
    old = appointment.status
    if status in TRANSITIONS and status in TRANSITIONS.get(old, ()):
        return []
    return [("status", _l("An appointment that is %(current)s cannot become %(new)s.",
                          current=STATUS_LABELS.get(old, old), new=STATUS_LABELS.get(status, _l("Unknown value."))))]


def transition(session, appointment, status, *, expected_version=None, actor=None, reason=None):
    """Move an appointment along the status workflow (TRANSITIONS); illegal moves are refused."""
    old = appointment.status
    problems = _transition_problems(appointment, status)
    if problems:
        raise ValidationFailed(problems)
    if status == "cancelled" and (not reason or not str(reason).strip()):
        raise ValidationFailed([("cancel_reason", _l("This field is required."))])
    if expected_version is not None and appointment.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    if status == "cancelled":
        appointment.cancel_reason = str(reason).strip()[:300]
    appointment.status = status
    _record_status(session, appointment, old, status, actor)
    _commit(session)
    return appointment


def cancel(session, appointment, *, reason, expected_version=None, actor=None):
    """Cancel with a reason; the time becomes free again."""
    return transition(session, appointment, "cancelled", expected_version=expected_version, actor=actor,
                      reason=reason)


def mark_no_show(session, appointment, *, expected_version=None, actor=None):
    return transition(session, appointment, "no_show", expected_version=expected_version, actor=actor)


def room_patient(session, appointment, room, *, expected_version=None, actor=None):
    """Put an arrived patient in `room` (object or id) and move to "in_room", in one commit.

    Refused (nothing changes) if the move is illegal or the room is unknown, inactive or at
    another location (ValidationFailed), or the room is taken: another active appointment
    holds it at that time, or another patient is still in it (AppointmentConflictError).
    """
    room_obj = resolve(session, Room, room)
    problems = _transition_problems(appointment, "in_room")
    if room_obj is None:
        problems.append(("room", _l("Unknown value.") if room is not None else _l("This field is required.")))
    elif not room_obj.active:
        problems.append(inactive_problem("room", room_obj))
    elif room_obj.location_id != appointment.location_id:
        problems.append(("room", _l("This room is at another location.")))
    if problems:
        raise ValidationFailed(problems)
    if expected_version is not None and appointment.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    query = dict(provider_id=None, room_id=room_obj.id, patient_id=None, start_at=appointment.start_at,
                 end_at=appointment.end_at, exclude_id=appointment.id)
    conflicts = find_conflicts(session, **query)
    seen = {c.appointment_id for c in conflicts}
    for other in session.scalars(select(Appointment).where(
            Appointment.room_id == room_obj.id, Appointment.status == "in_room", Appointment.id != appointment.id)):
        if other.id not in seen:  # running late: the room is still occupied whatever the schedule says
            conflicts.append(Conflict("room", other.id, other.start_local, _l(
                "The room is still occupied by the visit of %(time)s.",
                time=_show(other.start_local, other.timezone))))
    if conflicts:
        session.rollback()
        raise AppointmentConflictError(conflicts)
    old = appointment.status
    appointment.room = room_obj
    appointment.status = "in_room"
    _record_status(session, appointment, old, "in_room", actor)
    _commit(session, [query])
    return appointment


def status_times(appointment):
    """{status: (when, user id)} of the latest change into each status."""
    return {c.to_status: (c.changed_at, c.changed_by_fk) for c in appointment.status_changes}


# --------------------------------------------------------------------------- series

def series_starts(start_local, *, every_weeks=1, count=None, until=None):
    """Local wall-clock starts of a weekly series: same weekday and local time."""
    problems = []
    if isinstance(every_weeks, bool) or not isinstance(every_weeks, int) or not 1 <= every_weeks <= 52:
        problems.append(("every_weeks", _l("Repeat every 1 to 52 weeks.")))
    if (count is None) == (until is None):
        problems.append(("count", _l("Give either a number of occurrences or an end date.")))
    elif count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                or not 1 <= count <= MAX_OCCURRENCES):
        problems.append(("count", _l("Between 1 and %(max)d occurrences.", max=MAX_OCCURRENCES)))
    elif until is not None and isinstance(start_local, datetime) and until < start_local.date():
        problems.append(("until", _l("The end must be after the start.")))
    if problems:
        raise ValidationFailed(problems)
    starts, step = [], timedelta(weeks=every_weeks)
    current = start_local
    while len(starts) < MAX_OCCURRENCES and (count is None or len(starts) < count) and (
            until is None or current.date() <= until):
        starts.append(current)
        current += step
    if until is not None and current.date() <= until:
        raise ValidationFailed([("count", _l("Between 1 and %(max)d occurrences.", max=MAX_OCCURRENCES))])
    return starts


def book_series(session, *, patient, provider, location, type, start_local, every_weeks=1, count=None, until=None,
                duration=None, room=None, reason=None, skip_conflicts=False, actor=None, now=None):
    """Book a weekly series, one row per occurrence sharing a series_id.

    All or nothing by default: a clash on any occurrence books none and lists every one.
    With `skip_conflicts` the free occurrences are booked; returns (booked, skipped conflicts).
    """
    starts = series_starts(start_local, every_weeks=every_weeks, count=count, until=until)
    planned, conflicts, problems = [], [], []
    for when in starts:
        try:
            values = _prepare(session, patient=patient, provider=provider, location=location, type=type,
                              start_local=when, start_at=None, duration=duration, room=room, now=now)
        except ValidationFailed as exc:
            problems += [(f, _l("%(date)s: %(problem)s", date=when.strftime("%Y-%m-%d"), problem=m))
                         for f, m in exc.problems]
            continue
        found = find_conflicts(session, **_conflict_query(values))
        # Occurrences of this series must not clash with each other either (they cannot: a week apart).
        if found:
            conflicts += found
        else:
            planned.append(values)
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    if conflicts and not skip_conflicts:
        session.rollback()
        raise AppointmentConflictError(conflicts)
    series_id = uuid.uuid4().hex
    booked = []
    try:
        for values in planned:
            details = _visit_details(session, values, reason, None)  # each telehealth visit its own link
            appointment = Appointment(status="booked", series_id=series_id, **values, **details)
            session.add(appointment)
            _record_status(session, appointment, None, "booked", actor)
            booked.append(appointment)
        session.commit()
    except IntegrityError as exc:
        raise _translate_race(session, exc, [_conflict_query(v) for v in planned]) from None
    _authorization_warnings(session, booked)
    return booked, conflicts


def following(session, appointment):
    """This appointment and the later active occurrences of its series, earliest first
    (just this one when it is not part of a series)."""
    if not appointment.series_id:
        return [appointment]
    later = session.scalars(select(Appointment).where(
        Appointment.series_id == appointment.series_id, Appointment.id != appointment.id, _active(),
        Appointment.start_at > appointment.start_at).order_by(Appointment.start_at))
    return [appointment, *later]


def _dated(when, problems):
    return [(f, _l("%(date)s: %(problem)s", date=when.strftime("%Y-%m-%d"), problem=m)) for f, m in problems]


def cancel_following(session, appointment, *, reason, expected_version=None, actor=None):
    """Cancel this appointment and the later active occurrences of its series, all or nothing.

    Returns the cancelled appointments; any occurrence that cannot be cancelled refuses all.
    """
    items = following(session, appointment)
    problems = []
    if not reason or not str(reason).strip():
        problems.append(("cancel_reason", _l("This field is required.")))
    for item in items:
        problems += _dated(item.start_local, _transition_problems(item, "cancelled"))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    if expected_version is not None and appointment.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    for item in items:
        old = item.status
        item.status, item.cancel_reason = "cancelled", str(reason).strip()[:300]
        _record_status(session, item, old, "cancelled", actor)
    _commit(session)
    return items


def reschedule_following(session, appointment, *, expected_version, start_local=None, start_at=None,
                         duration=None, provider=None, location=None, room=None, actor=None, now=None):
    """Move this appointment and the later active occurrences of its series by the same
    wall-clock shift (e.g. each Monday 09:00 becomes Tuesday 10:00), all or nothing.

    `start_local` (or `start_at`) is this appointment's new start. Any problem or clash on any
    occurrence refuses every move: ValidationFailed (problems dated) or AppointmentConflictError
    listing every clash. Returns the moved appointments.
    """
    items = following(session, appointment)
    new_location = resolve(session, Location, location) or appointment.location
    if start_local is None and isinstance(start_at, datetime) and start_at.tzinfo is not None:
        start_local = utc_to_local(start_at.astimezone(timezone.utc), new_location.timezone)
    if not isinstance(start_local, datetime) or start_local.tzinfo is not None:
        raise ValidationFailed([("start", _l("This field is required."))])
    shift = start_local - appointment.start_local
    moving = {item.id for item in items}
    planned, problems, conflicts = [], [], []
    for item in items:
        if item.status not in ("booked", "confirmed"):
            problems += _dated(item.start_local, [("status", _l(
                "An appointment that is %(current)s cannot be moved.", current=STATUS_LABELS[item.status]))])
            continue
        when = item.start_local + shift
        try:
            values = _prepare(session, patient=item.patient, provider=provider or item.provider,
                              location=location or item.location, type=item.type, start_local=when,
                              start_at=None, duration=duration or item.duration_minutes,
                              room=room if room is not None else item.room, now=now, exclude_id=item.id)
        except ValidationFailed as exc:
            problems += _dated(when, exc.problems)
            continue
        query = _conflict_query(values, exclude_id=item.id)
        conflicts += [c for c in find_conflicts(session, **query) if c.appointment_id not in moving]
        planned.append((item, values, query))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    if conflicts:
        session.rollback()
        raise AppointmentConflictError(conflicts)
    if appointment.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    # Move the occurrence furthest in the direction of travel first, so that no row lands on
    # a time another occurrence of the series has not left yet (the database checks each row).
    ordered = sorted(planned, key=lambda p: p[0].start_at, reverse=shift > timedelta(0))
    try:
        for item, values, _query in ordered:
            for key, value in values.items():
                setattr(item, key, value)
            item.overbook, item.overbook_reason, item.overbook_by_fk = False, None, None
            session.flush()
        session.commit()
    except StaleDataError:
        session.rollback()
        raise StaleRecordError() from None
    except IntegrityError as exc:
        raise _translate_race(session, exc, [q for _i, _v, q in planned]) from None
    return _authorization_warnings(session, [item for item, _v, _q in planned])


# --------------------------------------------------------------------------- slots

def find_slots(session, *, provider, type, start_date, end_date, location=None, duration=None, step=None,
               limit=20, now=None):
    """The next free starts for `provider` from start_date to end_date (local dates, inclusive).

    Honours the weekly hours (local wall-clock at each location), exceptions and every
    active appointment of the provider; one query each for hours, exceptions and bookings.
    """
    provider = resolve(session, Provider, provider)
    kind = resolve(session, AppointmentType, type)
    if provider is None or kind is None:
        raise ValidationFailed([("type" if kind is None else "provider", _l("Unknown value."))])
    duration = duration or kind.default_duration
    problems = check_duration(duration)
    if end_date < start_date:
        problems.append(("end_date", _l("The end must be after the start.")))
    if problems:
        raise ValidationFailed(problems)
    step = timedelta(minutes=step or _config("SCHEDULING_SLOT_STEP", None) or duration)
    length = timedelta(minutes=duration)
    now = now or utcnow()
    location_id = getattr(resolve(session, Location, location), "id", None)

    hours_stmt = select(ProviderHours, Location).join(Location).where(
        ProviderHours.provider_id == provider.id, Location.active.is_(True),
        or_(ProviderHours.valid_from.is_(None), ProviderHours.valid_from <= end_date),
        or_(ProviderHours.valid_to.is_(None), ProviderHours.valid_to >= start_date))
    if location_id is not None:
        hours_stmt = hours_stmt.where(ProviderHours.location_id == location_id)
    blocks = list(session.execute(hours_stmt))
    if not blocks:
        return []
    # The UTC window covering every local day in range, in any zone.
    window_start = datetime.combine(start_date, time(), timezone.utc) - timedelta(days=1)
    window_end = datetime.combine(end_date, time(), timezone.utc) + timedelta(days=2)
    busy = [(a.start_at, a.end_at) for a in session.execute(
        select(Appointment.start_at, Appointment.end_at).where(
            Appointment.provider_id == provider.id, _active(),
            *overlapping(window_start, window_end)))]
    busy += [(e.start_at, e.end_at) for e in _exceptions(session, provider.id, window_start, window_end)]
    busy = _merged(busy)
    busy_starts = [b[0] for b in busy]

    slots = []
    day = start_date
    while day <= end_date and len(slots) < limit:
        candidates = []
        for block, loc in blocks:
            if block.weekday != day.weekday() or (block.valid_from and block.valid_from > day) or (
                    block.valid_to and block.valid_to < day):
                continue
            cursor, block_end = datetime.combine(day, block.start_time), datetime.combine(day, block.end_time)
            while cursor + length <= block_end:
                start_at = local_to_utc(cursor, loc.timezone)
                if start_at is not None:
                    end_at = start_at + length
                    end_ok = utc_to_local(end_at, loc.timezone) <= block_end
                    free = _free(busy, busy_starts, start_at, end_at)
                    if end_ok and free and start_at >= now:
                        candidates.append(Slot(start_at, end_at, cursor, loc.id))
                cursor += step
        candidates.sort(key=lambda s: s.start_at)
        slots += candidates[: limit - len(slots)]
        day += timedelta(days=1)
    return slots


def _merged(intervals):
    """Sorted, disjoint union of (start, end) intervals."""
    out = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _free(busy, busy_starts, start_at, end_at):
    """True if [start_at, end_at) overlaps none of the merged busy intervals (binary search)."""
    i = bisect_left(busy_starts, end_at) - 1  # the last interval starting before end_at
    return i < 0 or busy[i][1] <= start_at


def resync_utc_from_local(session, *, since=None):
    """After a change of DST rules (new tzdata): recompute start/end of future appointments
    from their wall-clock time so they stay where the patient was told; returns how many moved."""
    since = since or utcnow()
    moved = 0
    for appointment in session.scalars(select(Appointment).where(Appointment.start_at >= since - timedelta(days=2),
                                                                 _active())):
        start_at = local_to_utc(appointment.start_local, appointment.timezone)
        if start_at is not None and start_at != appointment.start_at:
            length = appointment.end_at - appointment.start_at
            appointment.start_at, appointment.end_at = start_at, start_at + length
            moved += 1
    session.commit()
    return moved

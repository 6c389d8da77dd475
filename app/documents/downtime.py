"""The downtime pack (contingency plan, HIPAA 164.308(a)(7)): a day's schedule with the
patients' contact data, printed ahead so the desk can work on paper while the system is down.

build_pack() gathers the data; render() prints it through the one PDF renderer. Both doors
(`flask clinic downtime-pack`, the Administration screen) call them and audit the print.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from flask import current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..models import Appointment, Location, Provider
from ..models.scheduling import INACTIVE_STATUSES, ProviderHours
from ..services import dates, languages, phones
from .pdf import render_pdf

WALK_IN_LINES = 12
PHONE_LABELS = {"mobile": _l("Mobile phone"), "home": _l("Home phone"), "work": _l("Work phone")}


def css_string(text):
    """`text` made safe inside a double-quoted CSS string in a <style> element."""
    text = " ".join(str(text).split())
    return Markup(text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c "))


@dataclass
class Row:
    start: str
    end: str
    name: str
    mrn: str
    restricted: bool
    birth_date: str = ""
    language: str = ""
    interpreter: bool = False
    phones: list = field(default_factory=list)  # (label key, display number)
    emergency: tuple = ("", "")  # name (relationship), phone
    type: str = ""
    room: str = ""


@dataclass
class ProviderDay:
    provider: Provider
    rows: list = field(default_factory=list)


@dataclass
class LocationDay:
    location: Location
    providers: list = field(default_factory=list)  # ProviderDay, by provider name


@dataclass
class Pack:
    day: date
    location: Location | None
    locations: list  # LocationDay
    phone_list: list  # active providers, by name
    appointments: int = 0
    patients: int = 0


def _works_on(session, location, day):
    """Ids of providers with working hours at `location` on `day`."""
    rows = session.execute(
        select(ProviderHours.provider_id, ProviderHours.valid_from, ProviderHours.valid_to)
        .where(ProviderHours.location_id == location.id, ProviderHours.weekday == day.weekday())
    ).all()
    return {pid for pid, since, until in rows if (since is None or since <= day) and (until is None or day <= until)}


def _row(appointment, location, locale, region):
    tz = ZoneInfo(location.timezone)
    start = appointment.start_at.astimezone(tz)
    end = appointment.end_at.astimezone(tz)
    patient = appointment.patient
    row = Row(start=format_time(start, "short", tzinfo=tz, locale=locale),
              end=format_time(end, "short", tzinfo=tz, locale=locale),
              name=patient.display_name, mrn=patient.mrn, restricted=bool(patient.restricted))
    if row.restricted:  # minimum necessary: who and when, nothing to reach them with
        return row
    row.birth_date = dates.format_input(patient.birth_date, locale)  # four-digit year: 3/4/1980
    row.language = languages.name(patient.preferred_language, locale)
    row.interpreter = bool(patient.interpreter_needed)
    row.phones = [(kind, phones.display(number, region)) for kind, number in
                  (("mobile", patient.phone_mobile), ("home", patient.phone_home), ("work", patient.phone_work))
                  if number]
    if patient.emergency_contact_name or patient.emergency_contact_phone:
        name = patient.emergency_contact_name or ""
        if patient.emergency_contact_relationship:
            name += f" ({patient.emergency_contact_relationship})"
        row.emergency = (name.strip(), phones.display(patient.emergency_contact_phone, region))
    row.type = appointment.type.name if appointment.type else ""
    row.room = appointment.room.name if appointment.room else ""
    return row


def build_pack(session, day, location_id=None, *, locale="en"):
    """The pack for the local day `day` at one location (or every active one)."""
    region = current_app.config.get("CLINIC_COUNTRY", "US")
    query = select(Location).order_by(Location.name)
    location = None
    if location_id is not None:
        location = session.get(Location, location_id)
        if location is None:
            raise LookupError(location_id)
        query = query.where(Location.id == location.id)
    else:
        query = query.where(Location.active.is_(True))
    locations = session.scalars(query).all()
    # A local day is at most 26 hours and zones are within 14 hours of UTC: this window holds it.
    window_start = datetime.combine(day, time.min, tzinfo=ZoneInfo("UTC")) - timedelta(hours=15)
    window_end = window_start + timedelta(hours=15 + 24 + 15)
    appointments = session.scalars(
        select(Appointment)
        .options(joinedload(Appointment.patient), joinedload(Appointment.provider), joinedload(Appointment.room),
                 joinedload(Appointment.type))
        .where(Appointment.location_id.in_([loc.id for loc in locations]),
               Appointment.status.not_in(INACTIVE_STATUSES),
               Appointment.start_at >= window_start, Appointment.start_at < window_end)
        .order_by(Appointment.start_at, Appointment.id)
    ).unique().all()
    providers_by_id = {p.id: p for p in session.scalars(select(Provider)).all()}
    result, patient_ids, count = [], set(), 0
    for loc in locations:
        tz = ZoneInfo(loc.timezone)
        days = {}
        for pid in _works_on(session, loc, day):
            if pid in providers_by_id and providers_by_id[pid].active:
                days[pid] = ProviderDay(providers_by_id[pid])
        for appointment in appointments:
            if appointment.location_id != loc.id or appointment.start_at.astimezone(tz).date() != day:
                continue
            days.setdefault(appointment.provider_id, ProviderDay(appointment.provider)).rows.append(
                _row(appointment, loc, locale, region))
            patient_ids.add(appointment.patient_id)
            count += 1
        ordered = sorted(days.values(), key=lambda d: (d.provider.family_name, d.provider.given_name, d.provider.id))
        result.append(LocationDay(loc, ordered))
    phone_list = sorted((p for p in providers_by_id.values() if p.active),
                        key=lambda p: (p.family_name, p.given_name, p.id))
    return Pack(day=day, location=location, locations=result, phone_list=phone_list, appointments=count,
                patients=len(patient_ids))


def audit_details(pack):
    """What the audit row keeps of a printed pack: no names."""
    return {"date": pack.day.isoformat(), "location": pack.location.id if pack.location else None,
            "appointments": pack.appointments, "patients": pack.patients}


def render(pack, *, locale, printed_by, title):
    """The pack as PDF bytes (landscape, a page per provider, the confidentiality footer)."""
    tz = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC"))
    # Isolated (U+2068/U+2069) so a time or a Latin user name keeps its place in a right-to-left footer.
    printed_at = "\u2068" + format_datetime(datetime.now(tz), "short", tzinfo=tz, locale=locale) + "\u2069"
    printed_by = "\u2068" + printed_by + "\u2069"
    return render_pdf("documents/downtime_pack.html", locale=locale, title=title, pack=pack,
                      day_label=format_date(pack.day, "full", locale=locale), printed_at=printed_at,
                      printed_by=printed_by, walk_in_lines=WALK_IN_LINES,
                      phone_labels=PHONE_LABELS, css_string=css_string, page_size="Letter landscape")

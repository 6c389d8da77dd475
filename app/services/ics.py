"""iCalendar (.ics) file of one appointment, for the reminder e-mail.

The event keeps the location's wall clock: DTSTART/DTEND carry the location's TZID and the
file holds the matching VTIMEZONE, so calendars show the right time across daylight-saving
changes. It says when, where (or the video link) and with which clinic: never the visit
reason.
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//ClinicDesk//Appointment reminders//EN"


def clinic_host():
    """The clinic's mail domain: UIDs and Message-IDs are made unique under it."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"] or "clinic@localhost"
    return sender.rpartition("@")[2] or "localhost"


def uid(appointment):
    """The same UID for every version of the appointment, so calendars update one entry."""
    return f"appointment-{appointment.id}@{clinic_host()}"


def build_ics(appointment, lang, *, summary=None, description=None, attendee=None, now=None):
    """The appointment as a METHOD:REQUEST calendar, as bytes.

    `summary` (the entry's title) and `description` come in the patient's language from the
    reminder template; `attendee` is the address the file is sent to.
    """
    cfg = current_app.config
    zone = ZoneInfo(appointment.timezone)
    join_url = appointment.telehealth_url if appointment.type.telehealth else None
    location = appointment.location
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    event = Event.new(
        uid=uid(appointment),
        stamp=(now or datetime.now(timezone.utc)).astimezone(timezone.utc),
        start=appointment.start_at.astimezone(zone),
        end=appointment.end_at.astimezone(zone),
        summary=summary or f"Appointment at {cfg['CLINIC_NAME']}",
        sequence=appointment.version or 0,
        status="CANCELLED" if not appointment.is_active else "CONFIRMED",
    )
    if join_url:
        event.add("location", join_url)
        event.add("url", join_url)
    else:
        event.add("location", ", ".join(p for p in (location.name, location.address) if p))
    text = "\n".join(p for p in (description, join_url) if p)
    if text:
        event.add("description", text)
    organizer = vCalAddress(f"mailto:{cfg['MAIL_DEFAULT_SENDER']}")
    organizer.params["cn"] = vText(cfg["CLINIC_NAME"])
    event.add("organizer", organizer)
    if attendee:
        person = vCalAddress(f"mailto:{attendee}")
        person.params.update({"role": "REQ-PARTICIPANT", "partstat": "ACCEPTED", "rsvp": "FALSE"})
        event.add("attendee", person)
    cal.add_component(event)
    # Only the transitions around the visit: a small file that still says which offset applies.
    cal.add_missing_timezones(first_date=(appointment.start_at - timedelta(days=366)).date(),
                              last_date=(appointment.end_at + timedelta(days=366)).date())
    return cal.to_ical()

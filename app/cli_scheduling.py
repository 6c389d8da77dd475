"""`flask clinic book`, `cancel-appointment` and `resync-appointment-times`: the scheduling
service from the shell (bulk work, scripts, a new tzdata release). Same rules as the screens."""
from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .cli import clinic_cli
from .extensions import db
from .models import Appointment, AppointmentType, Location, Patient, Provider, Room
from .services import scheduling
from .services.errors import DomainError, ValidationFailed


def _one(model, label, value, *columns, where=()):
    """The row whose id or one of `columns` equals `value`; a ClickException names what failed."""
    clauses = [getattr(model, c) == value for c in columns]
    if value.isdigit():
        clauses.append(model.id == int(value))
    rows = list(db.session.scalars(select(model).where(db.or_(*clauses), *where).limit(2)))
    if len(rows) != 1:
        raise click.ClickException(f"{label} {value!r}: {'ambiguous' if rows else 'not found'}")
    return rows[0]


def _fail(exc):
    """A refused change as the lines an operator reads (English: the shell has no locale)."""
    if isinstance(exc, ValidationFailed):
        lines = [f"{field}: {message}" for field, message in exc.problems]
    else:
        lines = [str(m) for m in getattr(exc, "messages", [])] or [str(exc.message)]
    raise click.ClickException("refused, nothing was changed:\n  " + "\n  ".join(lines))


@clinic_cli.command("book")
@click.option("--patient", "mrn", required=True, help="The patient's MRN.")
@click.option("--provider", required=True, help="The provider's NPI or id.")
@click.option("--location", required=True, help="Location name or id.")
@click.option("--type", "type_", required=True, help="Appointment type name or id.")
@click.option("--start", required=True, help="Local wall-clock start at the location: 'YYYY-MM-DD HH:MM'.")
@click.option("--duration", type=int, help="Minutes (default: the type's).")
@click.option("--room", help="Room name or id at the location.")
@click.option("--every-weeks", type=int, help="Book a weekly series: repeat every N weeks ...")
@click.option("--count", type=int, help="... this many times.")
@with_appcontext
def book_command(mrn, provider, location, type_, start, duration, room, every_weeks, count):
    """Book an appointment (or a weekly series) through the booking service."""
    try:
        start_local = datetime.strptime(start, "%Y-%m-%d %H:%M")
    except ValueError:
        raise click.ClickException(f"--start {start!r}: write it as 'YYYY-MM-DD HH:MM'") from None
    patient = _one(Patient, "patient", mrn, "mrn")
    place = _one(Location, "location", location, "name")
    args = dict(patient=patient, provider=_one(Provider, "provider", provider, "npi"), location=place,
                type=_one(AppointmentType, "type", type_, "name"), start_local=start_local, duration=duration,
                room=_one(Room, "room", room, "name", where=[Room.location_id == place.id]) if room else None)
    try:
        if every_weeks or count:
            booked, _ = scheduling.book_series(db.session, every_weeks=every_weeks or 1, count=count, **args)
        else:
            booked = [scheduling.book(db.session, **args)]
    except DomainError as exc:
        db.session.rollback()
        _fail(exc)
    for appointment in booked:
        click.echo(f"Booked appointment {appointment.id}: {appointment.start_local:%Y-%m-%d %H:%M} "
                   f"{appointment.timezone}")
        for warning in getattr(appointment, "authorization_warnings", None) or []:
            click.echo(f"  warning: {warning}")  # prior authorization missing: the booking stands


@clinic_cli.command("cancel-appointment")
@click.argument("appointment_id", type=int)
@click.option("--reason", required=True, help="Why it is cancelled (kept with the appointment).")
@with_appcontext
def cancel_appointment_command(appointment_id, reason):
    """Cancel an appointment through the booking service; its time becomes free."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        raise click.ClickException(f"appointment {appointment_id}: not found")
    try:
        scheduling.cancel(db.session, appointment, reason=reason)
    except DomainError as exc:
        db.session.rollback()
        _fail(exc)
    click.echo(f"Cancelled appointment {appointment_id}.")


@clinic_cli.command("resync-appointment-times")
@with_appcontext
def resync_command():
    """After a time-zone rules update (tzdata): put future appointments back at the wall-clock
    time the patient was given."""
    moved = scheduling.resync_utc_from_local(db.session)
    click.echo(f"{moved} appointment(s) moved to keep their local time.")

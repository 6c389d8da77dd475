"""`flask clinic eligibility-270` and `eligibility-271`: the X12 eligibility files from the shell
(a clearinghouse drop folder, a cron job). Same service as the Eligibility screen."""
from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .cli import clinic_cli
from .extensions import db
from .models import Location
from .models.base import utcnow
from .services import audit, eligibility
from .services import x12_eligibility as x12
from .services.errors import DomainError, ValidationFailed


def _refused(exc):
    if isinstance(exc, ValidationFailed):
        lines = [str(message) for _, message in exc.problems]
    else:
        lines = [str(exc.message)]
    return click.ClickException("refused, nothing was changed:\n  " + "\n  ".join(lines))


@clinic_cli.command("eligibility-270")
@click.option("--date", "day", required=True, help="Date of service, YYYY-MM-DD.")
@click.option("--location", type=int, help="Location id (default: every active location).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="File to write the 270 to.")
@with_appcontext
def eligibility_270_command(day, location, out):
    """Write an X12 270 for the day's appointments that have no eligibility check yet."""
    try:
        day = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter("write the date as YYYY-MM-DD", param_hint="--date") from None
    stmt = select(Location).where(Location.active.is_(True)).order_by(Location.id)
    if location is not None:
        stmt = select(Location).where(Location.id == location)
    locations = list(db.session.scalars(stmt))
    if not locations:
        raise click.ClickException(f"location {location}: not found" if location else "no active location")
    appointments = [a for loc in locations for a in eligibility.appointments_on(db.session, loc, day)]
    batch = eligibility.unchecked(db.session, appointments)
    try:
        control = x12.next_control_number(db.session)
        text = x12.write_270(db.session, batch, now=utcnow(), control_number=control)
    except DomainError as exc:
        db.session.rollback()
        raise _refused(exc) from None
    with open(out, "w", encoding="ascii") as fh:
        fh.write(text)
    audit.record(db.engine, action="export", object_type="Eligibility270", object_id=control, details={
        "date": day.isoformat(), "locations": [loc.id for loc in locations], "control_number": control,
        "patients": sorted({a.patient_id for a in batch}), "via": "cli"})
    click.echo(f"Wrote 270 interchange {control} to {out}.")


@clinic_cli.command("eligibility-271")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def eligibility_271_command(path):
    """Read an X12 271 response into the pending eligibility checks (all or nothing)."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        summary = x12.read_271(db.session, data)
    except DomainError as exc:
        db.session.rollback()
        raise _refused(exc) from None
    audit.record(db.engine, action="import", object_type="Eligibility271", details={
        "updated": len(summary.updated), "unknown": len(summary.unknown),
        "patients": sorted({c.patient_id for c in summary.updated}), "via": "cli"})
    counts = ", ".join(f"{n} {result}" for result, n in sorted(summary.counts().items())) or "none"
    click.echo(f"Answered {len(summary.updated)} check(s): {counts}.")
    if summary.unknown:
        click.echo(f"No pending check for {len(summary.unknown)} trace number(s), ignored: "
                   + ", ".join(summary.unknown), err=True)

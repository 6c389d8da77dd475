"""`flask clinic downtime-pack`: print tomorrow's downtime pack from cron, before any outage."""
import logging
import os
from datetime import date, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from .cli import clinic_cli
from .extensions import db


@clinic_cli.command("downtime-pack")
@click.option("--date", "day", default=None, help="YYYY-MM-DD (default: tomorrow in the clinic's time zone).")
@click.option("--location", "location_id", type=int, default=None, help="Location id (default: every active one).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PDF file to write.")
@click.option("--as-user", "username", required=True,
              help="Print as this user: they need can_print on DowntimePack, and the audit trail names them.")
@with_appcontext
def downtime_pack_command(day, location_id, out, username):
    """Write the downtime pack (a day's schedule with patient contacts) as a PDF."""
    from .documents import downtime
    from .services import dates
    from .views.downtime import print_pack

    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    role_ids = [role.id for role in sm.get_user_roles(user)]
    if not (user.is_active and role_ids and sm.exist_permission_on_roles("DowntimePack", "can_print", role_ids)):
        raise click.ClickException(f"{username} may not print the downtime pack (no can_print on DowntimePack)")
    try:
        day = date.fromisoformat(day) if day else dates.clinic_today() + timedelta(days=1)
    except ValueError:
        raise click.ClickException(f"--date {day!r}: write YYYY-MM-DD")
    languages = current_app.config["LANGUAGES"]
    locale = user.locale if getattr(user, "locale", None) in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        try:
            pack = downtime.build_pack(db.session, day, location_id, locale=locale)
        except LookupError:
            raise click.ClickException(f"no location {location_id}")
        who = {"user_id": user.id, "username": user.username, "ip": None, "path": "cli: flask clinic downtime-pack"}
        pdf = print_pack(pack, locale=locale, username=user.username, who=who)
    # Patient data: readable by its owner only.
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pdf)
    click.echo(f"downtime pack {day.isoformat()}: {pack.appointments} appointment(s), "
               f"{pack.patients} patient(s) -> {out}", err=True)

"""`flask clinic report NAME ...`: run a report from the command line (cron), with the same
parameter checks, permission (as --as-user) and audit row as the report page."""
import logging
import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from .cli import clinic_cli
from .extensions import db


@clinic_cli.command("report")
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter as typed on the form (dates in ISO or the locale's order); repeat for more. "
                   "Date ranges take KEY_from and KEY_to. Parameters left out take their defaults.")
@click.option("--format", "fmt", type=click.Choice(["pdf", "csv", "html"]), default="csv", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="File to write ('-' for standard output).")
@click.option("--locale", default=None, help="Language of the output (default: the user's, else the clinic's).")
@click.option("--as-user", "username", required=True,
              help="Run as this user: their roles decide, and the audit trail names them.")
@click.option("--localized", is_flag=True, help="CSV: numbers and dates in the locale's format instead of ISO.")
@with_appcontext
def report_command(name, params, fmt, out, locale, username, localized):
    """Run the report NAME (a file name in reports/, e.g. new_patients_by_month)."""
    from .reports import all_reports, runner
    from .services.errors import ValidationFailed

    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # no page-by-page progress in cron mail

    reports = all_reports()
    report = reports.get(name)
    if report is None:
        raise click.ClickException(f"no report {name!r}; reports: {', '.join(reports)}")
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    languages = current_app.config["LANGUAGES"]
    locale = locale or (getattr(user, "locale", None) if getattr(user, "locale", None) in languages else None) \
        or current_app.config["BABEL_DEFAULT_LOCALE"]
    if locale not in languages:
        raise click.ClickException(f"unknown locale {locale!r}; choose from {', '.join(languages)}")
    raw = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.ClickException(f"--param {item!r}: write KEY=VALUE")
        raw[key.strip()] = value
    who = {"user_id": user.id, "username": user.username, "ip": None, "path": "cli: flask clinic report"}
    with force_locale(locale):
        try:
            result = runner.run(report, raw, user=user, sm=sm, fmt=fmt, localized=localized, engine=db.engine,
                                session=db.session, who=who)
        except runner.ReportRefused:
            raise click.ClickException(f"{username} may not run the report {name!r} (no can_run on {report.view_menu})")
        except ValidationFailed as exc:
            lines = [f"  {key or 'parameters'}: {message}" for key, message in exc.problems]
            raise click.ClickException("nothing was run; correct the parameters:\n" + "\n".join(lines))
        except runner.ReportTimeout as exc:
            raise click.ClickException(str(exc.message))
        if fmt == "pdf":
            body = runner.to_pdf(result)
        elif fmt == "csv":
            body = runner.to_csv_bytes(result)
        else:
            body = runner.to_html_document(result).encode("utf-8")
    if out == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        # The file may hold patient data: readable by its owner only.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
    note = " (truncated)" if result.truncated else ""
    click.echo(f"{report.name}: {len(result.rows)} row(s){note} in {result.seconds:.2f} s -> {out}", err=True)

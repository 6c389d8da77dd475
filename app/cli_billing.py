"""`flask clinic load-icd10` and `load-fees`: the ICD-10-CM code sets and the practice's fee
schedule from files. Same services as the screens; nothing is written when anything is wrong."""
import os
from datetime import date

import click
from flask.cli import with_appcontext

from .cli import clinic_cli
from .extensions import db
from .services import fees, icd10
from .services.errors import ValidationFailed


def _refuse(lines):
    raise click.ClickException("refused, nothing was loaded:\n  " + "\n  ".join(str(x) for x in lines))


def load_icd10_with_progress(session, rows=None, *, name=None, effective_from=None, source=None):
    """Load a code set (the default one when rows is None) with a progress bar, then commit."""
    if rows is None:
        name, effective_from, source = icd10.default_release()
        problems = icd10.check_new_set(session, name=name, effective_from=effective_from)
        if problems:
            _refuse(message for _, message in problems)
        click.echo(f"Reading {source} ...")
        rows = icd10.default_rows()
    try:
        with click.progressbar(length=len(rows), label=f"Loading {name} (in force from {effective_from})") as bar:
            code_set = icd10.load_code_set(session, rows, name=name, effective_from=effective_from,
                                           source=source, progress=bar.update)
        session.commit()
        icd10.analyze(db.engine)
    except ValidationFailed as exc:
        session.rollback()
        _refuse(message for _, message in exc.problems)
    except Exception:
        session.rollback()
        raise
    click.echo(f"Loaded {code_set.code_count} codes of {code_set.name}, in force from "
               f"{code_set.effective_from.isoformat()}.")
    return code_set


def ensure_default_icd10(session):
    """Load the default code set when none exists (flask clinic init)."""
    if icd10.has_code_set(session):
        click.echo("ICD-10-CM code set already loaded.")
    else:
        load_icd10_with_progress(session)


@clinic_cli.command("load-icd10")
@click.argument("file", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--effective", "effective", help="First date of service the release applies to (YYYY-MM-DD).")
@click.option("--name", help="Name of the code set (default: ICD-10-CM from <date>).")
@click.option("--default", "default", is_flag=True, help="Load the release simple-icd-10-cm ships instead of a file.")
@with_appcontext
def load_icd10_command(file, effective, name, default):
    """Load an ICD-10-CM release: a CMS order file (icd10cm_order_20XX.txt) or --default."""
    if default == bool(file):
        raise click.UsageError("give either FILE (with --effective) or --default")
    if default:
        load_icd10_with_progress(db.session)
        return
    try:
        effective_from = date.fromisoformat(effective or "")
    except ValueError:
        raise click.UsageError("--effective YYYY-MM-DD is required with FILE") from None
    with open(file, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # older CMS files
    rows, errors = icd10.parse_cms_order(text)
    if errors:
        shown = [message for _, message in errors[:50]]
        if len(errors) > 50:
            shown.append(f"... and {len(errors) - 50} more problems")
        _refuse(shown)
    name = name or f"ICD-10-CM from {effective_from.isoformat()}"
    load_icd10_with_progress(db.session, rows, name=name, effective_from=effective_from,
                             source=os.path.basename(file))


@clinic_cli.command("load-fees")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every line and report; write nothing.")
@with_appcontext
def load_fees_command(file, dry_run):
    """Load the practice's fee schedule from CSV: code,modifier,fee,effective_date."""
    with open(file, encoding="utf-8-sig", newline="") as fh:
        text = fh.read()
    report = fees.import_fees(db.session, text, dry_run=dry_run)
    if report.errors:
        db.session.rollback()
        _refuse(message for _, message in report.errors)
    if report.written:
        db.session.commit()
    counts = ", ".join(f"{report.count(s)} {s}" for s in ("added", "updated", "unchanged"))
    click.echo(("Dry run, nothing written: " if dry_run else "Fee schedule loaded: ") + counts + ".")

"""`flask clinic sweep-uploads`: remove uploaded files that never got their document row."""
from datetime import timedelta

import click
from flask.cli import with_appcontext

from .cli import clinic_cli
from .extensions import db
from .services import documents


@clinic_cli.command("sweep-uploads")
@click.option("--older-than-hours", type=click.IntRange(min=1), default=24, show_default=True,
              help="Only files at least this old (uploads in progress are never touched).")
@click.option("--dry-run", is_flag=True, help="List what would be removed, remove nothing.")
@with_appcontext
def sweep_uploads_command(older_than_hours, dry_run):
    """Remove stored files without a document row (left by a process that died mid-upload)."""
    age = timedelta(hours=older_than_hours)
    if dry_run:
        paths = documents.orphan_files(db.session, older_than=age)
    else:
        paths = documents.sweep_orphans(db.session, older_than=age)
    for path in paths:
        click.echo(path)
    click.echo(f"{len(paths)} orphan file(s) {'found' if dry_run else 'removed'}.")

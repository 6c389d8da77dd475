"""`flask clinic backup` and `flask clinic restore` (contingency plan, HIPAA 164.308(a)(7))."""
import os
import signal
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone

import click
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext

from . import MIGRATIONS_DIR
from .cli import clinic_cli
from .extensions import db
from .services import audit
from .services import backup as backups


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


@contextmanager
def _finally_runs_on_termination():
    """SIGTERM/SIGHUP (cron timeouts, systemd) become SystemExit, so temporary plaintext is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@clinic_cli.command("backup")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True),
              help="Backup file to write. Default: BACKUP_DIR/clinicdesk-<UTC timestamp>.cdbak")
@with_appcontext
def backup_command(out_path):
    """Write an encrypted backup of the database (safe while the application runs)."""
    key = current_app.config.get("BACKUP_ENCRYPTION_KEY")
    if key and key == current_app.config.get("BACKUP_DEV_KEY"):
        click.echo("Warning: encrypted with the development key; set BACKUP_ENCRYPTION_KEY for real data.", err=True)
    out_path = out_path or backups.default_backup_path(current_app.config["BACKUP_DIR"])
    try:
        with _finally_runs_on_termination():
            result = backups.backup(db.engine.url, out_path, key)
            files_out = backups.files_path(out_path)
            count = backups.backup_files(current_app.config["UPLOAD_FOLDER"], files_out, key)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup written: {result.path} ({_size(result.size)}, {result.kind}, {result.seconds:.1f} s)")
    click.echo(f"Documents written: {files_out} ({count} files, {_size(os.path.getsize(files_out))})")


@clinic_cli.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace the contents of a database that already holds clinic data.")
@with_appcontext
def restore_command(backup_file, yes):
    """Restore an encrypted backup into the configured database, then verify the audit trail.

    SQLite: stop the application first; the database file is replaced.
    PostgreSQL: pg_restore --clean in one transaction (it waits for the application's locks).
    """
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        click.echo("SQLite: the application must be stopped while its database file is replaced.", err=True)
    db.session.remove()
    db.engine.dispose()  # hold no connection of our own to the database being replaced
    try:
        with _finally_runs_on_termination():
            key = current_app.config.get("BACKUP_ENCRYPTION_KEY")
            files_in = backups.files_path(backup_file)
            if os.path.exists(files_in):  # check the documents' backup before touching anything
                backups.inspect_backup(files_in, key)
            result = backups.restore(url, backup_file, key, force=yes)
            if os.path.exists(files_in):
                count = backups.restore_files(files_in, current_app.config["UPLOAD_FOLDER"], key, force=yes)
                click.echo(f"Restored {count} document file(s) into {current_app.config['UPLOAD_FOLDER']}.")
            else:
                click.echo(f"No documents backup beside it ({files_in}): uploaded files were not restored.", err=True)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.engine.dispose()
    taken = datetime.fromtimestamp(result.created, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    click.echo(f"Restored the {result.kind} backup taken {taken} into {result.target} in {result.seconds:.1f} s.")

    revision = backups.schema_revision(url)
    head = ScriptDirectory(MIGRATIONS_DIR).get_current_head()
    if revision != head:
        click.echo(f"Schema revision {revision}, code expects {head}: run `flask db upgrade`.")

    problems, last, later = backups.verify_audit(url, audit.read_anchors(audit.anchor_path()))
    for line in problems:
        click.echo(line)
    if later:
        click.echo(f"{len(later)} audit anchor(s) name rows up to {later[-1][0]}, recorded after this backup "
                   f"(which ends at row {last}): those events are not in it.")
    if problems:
        click.echo(f"Audit trail damaged: {len(problems)} problem(s) in {last} rows.", err=True)
        sys.exit(1)
    click.echo(f"Audit trail intact: {last} rows, chain and anchors verified.")

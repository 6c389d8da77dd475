"""`flask clinic import-payer-file FILE`: receive an 835 / 999 / 277CA from the shell (a clearinghouse
drop folder, a cron job) and, with --process, post or apply it. Same service as the Payer files screen."""
import os

import click
from flask.cli import with_appcontext

from .cli import clinic_cli
from .extensions import db
from .services import audit, payer_files
from .services.errors import DomainError, ValidationFailed


def _refused(exc):
    if isinstance(exc, ValidationFailed):
        lines = [str(message) for _, message in exc.problems]
    else:
        lines = [str(exc.message)]
    return click.ClickException("refused, nothing was changed:\n  " + "\n  ".join(lines))


@clinic_cli.command("import-payer-file")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--process", "process", is_flag=True, help="Also post (835) or apply (999 / 277CA) the file.")
@with_appcontext
def import_payer_file_command(path, process):
    """Receive a payer file (835, 999 or 277CA); refused when malformed or received before."""
    with open(path, "rb") as fh:
        data = fh.read(payer_files.MAX_SIZE + 1)
    try:
        row = payer_files.receive(db.session, data, file_name=os.path.basename(path), actor=None)
    except DomainError as exc:
        db.session.rollback()
        raise _refused(exc) from None
    audit.record(db.engine, action="import", object_type="PayerFile", object_id=row.id,
                 details={"kind": row.kind, "sha256": row.sha256, "size": len(data), "via": "cli"})
    click.echo(f"Received {row.kind} file {row.file_name} as payer file {row.id}.")
    if not process:
        click.echo("Review it on the Payer files screen and post or apply it there (--process does it at once).")
        return
    try:
        result = payer_files.process(db.session, row, actor=None, expected_version=row.version)
    except DomainError as exc:
        db.session.rollback()
        raise _refused(exc) from None
    audit.record(db.engine, action="import", object_type="PayerFile", object_id=row.id,
                 details={"kind": row.kind, "status": row.status, "patients": result.patient_ids, "via": "cli"})
    click.echo(row.note)

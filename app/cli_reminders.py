"""`flask clinic send-reminders`: queue due appointment reminders, then send them (run from cron)."""
import click
from flask.cli import with_appcontext

from .cli import clinic_cli
from .extensions import db


def _skipped(counter):
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counter.items())) or "-"


@clinic_cli.command("send-reminders")
@click.option("--dry-run", is_flag=True, help="Count what would be queued and sent; send and change nothing.")
@with_appcontext
def send_reminders_command(dry_run):
    """E-mail appointment reminders with an .ics file to patients who consented (each once)."""
    from .models.base import utcnow
    from .services import reminders

    now = utcnow()
    if dry_run:
        new = reminders.due_appointments(db.session, now)
        counts = reminders.send_pending(db.session, now=now, dry_run=True, extra=new)
        click.echo(f"Dry run: would queue {len(new)}, send {counts['sent']}, "
                   f"skip {sum(counts['skipped'].values())} ({_skipped(counts['skipped'])}).")
        return
    queued = reminders.queue_due(db.session, now=now)
    counts = reminders.send_pending(db.session, now=now)
    click.echo(f"Queued {queued}, sent {counts['sent']}, skipped {sum(counts['skipped'].values())} "
               f"({_skipped(counts['skipped'])}), failed {counts['failed']}, to retry {counts['retry']}.")

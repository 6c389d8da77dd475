"""`flask clinic letters ...`: check the letter templates and list missing languages."""
import sys

import click
from flask.cli import with_appcontext

from .cli import clinic_cli


@clinic_cli.group("letters")
def letters_cli():
    """Patient letter templates."""


@letters_cli.command("check")
@with_appcontext
def letters_check():
    """Render every letter template with sample data; list missing languages; exit 1 on errors."""
    from .documents import letters

    problems = letters.check_templates()
    for path, error in problems:
        click.echo(f"ERROR {path}: {error}")
    for kind, lang in letters.missing_templates():
        click.echo(f"missing {kind}/{lang}.html (letters in {lang} fall back to the clinic default)")
    if problems:
        sys.exit(1)
    click.echo("Letter templates render.")

"""`flask clinic rotate-field-key`: re-encrypt every encrypted column under the first key.

Key rotation: put the new key first in FIELD_ENCRYPTION_KEY (`new,old`), restart, run this,
then drop the old key. Values are rewritten in one transaction and audited once (counts only).
"""
import click
from flask.cli import with_appcontext
from sqlalchemy import select, update

from .cli import clinic_cli
from .extensions import db
from .models import Model
from .services import audit, crypto

# (table, key column, encrypted column) of every value written by app/services/crypto.
ENCRYPTED_COLUMNS = (("patient", "id", "ssn_encrypted"), ("ab_user", "id", "totp_secret"))


@clinic_cli.command("rotate-field-key")
@with_appcontext
def rotate_field_key_command():
    """Re-encrypt SSNs and two-step sign-in secrets under the first FIELD_ENCRYPTION_KEY."""
    try:
        counts = _rotate_all()
    except crypto.InvalidToken:
        raise click.ClickException("a stored value cannot be decrypted with any configured key; nothing was changed") from None
    audit.flush_anchors()
    click.echo(", ".join(f"{name}: {n} re-encrypted" for name, n in counts.items()))


def _rotate_all():
    counts = {}
    with db.engine.begin() as conn:
        for table_name, key, column in ENCRYPTED_COLUMNS:
            table = Model.metadata.tables[table_name]
            rows = conn.execute(select(table.c[key], table.c[column]).where(table.c[column].isnot(None))).all()
            for pk, token in rows:
                conn.execute(update(table).where(table.c[key] == pk).values({column: crypto.rotate(token)}))
            counts[f"{table_name}.{column}"] = len(rows)
        audit.append(conn, action="key_rotation", object_type="FieldEncryption", details=counts)
    return counts

"""`flask clinic ...` commands."""
import secrets
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from .extensions import db
from .security import ROLE_DEFINITIONS, sync_roles


@click.group("clinic")
def clinic_cli():
    """ClinicDesk administration."""


@clinic_cli.command("sync-roles")
@click.option("--check", is_flag=True, help="Report drift from the code definition; change nothing; exit 1 on drift.")
@click.option("--prune", is_flag=True, help="Also remove permissions the code definition does not grant.")
@with_appcontext
def sync_roles_command(check, prune):
    """Write the clinic's roles (defined in app/security.py) into the database."""
    sm = current_app.appbuilder.sm
    if not check:
        current_app.appbuilder.add_permissions(update_perms=True)
    drift = sync_roles(sm, prune=prune, check=check)
    db.session.commit()
    for line in drift:
        click.echo(line)
    if check:
        if drift:
            click.echo(f"{len(drift)} difference(s) from the code definition.", err=True)
            sys.exit(1)
        click.echo("Roles match the code definition.")
    else:
        click.echo(f"Roles synced: {', '.join([sm.auth_role_admin] + list(ROLE_DEFINITIONS))}.")


def ensure_user(sm, username, role_name, *, first_name, last_name, email, password=None):
    """Create `username` with `role_name` unless it exists; return (user, password or None)."""
    user = sm.find_user(username=username)
    if user is not None:
        return user, None
    password = password or secrets.token_urlsafe(12)
    user = sm.add_user(username, first_name, last_name, email, sm.find_role(role_name), password=password)
    if not user:
        raise click.ClickException(f"could not create user {username}")
    return user, password


@clinic_cli.command("init")
@click.option("--admin-username", default="admin", show_default=True)
@click.option("--admin-password", envvar="CLINICDESK_ADMIN_PASSWORD", default=None, help="Random if omitted (printed once).")
@with_appcontext
def init_command(admin_username, admin_password):
    """Migrate the database, sync roles and create the first administrator."""
    upgrade()
    sm = current_app.appbuilder.sm
    current_app.appbuilder.add_permissions(update_perms=True)
    sync_roles(sm)
    db.session.commit()
    _, password = ensure_user(
        sm, admin_username, sm.auth_role_admin, first_name="Clinic", last_name="Administrator",
        email=f"{admin_username}@clinic.invalid", password=admin_password,
    )
    if password:
        click.echo(f"Administrator created: {admin_username} / {password}")
    else:
        click.echo(f"Administrator {admin_username} already exists.")

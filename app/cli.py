"""`flask clinic ...` commands."""
import secrets
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from .extensions import db
from .security import ROLE_DEFINITIONS, sync_permissions_and_roles


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
    drift = sync_permissions_and_roles(current_app.appbuilder, prune=prune, check=check)
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
    if password is not None:
        from .services.auth import WeakPasswordError

        try:
            sm.check_new_password(password, username=username)
        except WeakPasswordError as exc:
            raise click.ClickException(f"password for {username} refused: {exc.message}") from None
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
    sync_permissions_and_roles(current_app.appbuilder)
    db.session.commit()
    _, password = ensure_user(
        sm, admin_username, sm.auth_role_admin, first_name="Clinic", last_name="Administrator",
        email=f"{admin_username}@clinic.invalid", password=admin_password,
    )
    if password:
        click.echo(f"Administrator created: {admin_username} / {password}")
    else:
        click.echo(f"Administrator {admin_username} already exists.")
    from .cli_billing import ensure_default_icd10

    ensure_default_icd10(db.session)  # the ICD-10-CM release simple-icd-10-cm ships, once


@clinic_cli.command("seed-demo")
@click.option("--patients", "patient_count", default=2000, show_default=True, type=click.IntRange(min=0),
              help="How many demo patients to create.")
@click.option("--seed", default=42, show_default=True, type=int, help="Same seed, same patients.")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1, max=50000))
@click.option("--append", is_flag=True,
              help="Add patients even if the registry already has some (use another --seed, or they repeat).")
@click.option("--parallel/--no-parallel", default=None,
              help="Generate patients in a second process while inserting. Default: for 20,000+ patients.")
@with_appcontext
def seed_demo_command(patient_count, seed, batch_size, append, parallel):
    """Create demo providers, one demo user per role, and multilingual demo patients."""
    from .services import demo_seed

    session = db.session
    sm = current_app.appbuilder.sm
    providers = demo_seed.ensure_providers(session)
    created = sum(1 for _, was_created in providers if was_created)
    click.echo(f"Providers: {created} created, {len(providers) - created} already present.")

    try:
        users = demo_seed.ensure_demo_users(session, sm)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if any(password for _, _, password in users):
        click.echo("Demo users (passwords are shown only this once; write them down):")
    for role, username, password in users:
        if password:
            click.echo(f"  {role:<14} {username} / {password}")
        else:
            click.echo(f"  {role:<14} {username} already exists (password unchanged)")

    if demo_seed.has_patients(session) and not append:
        click.echo("Patients already exist: skipped seeding patients (use --append to add more).")
        _seed_demo_schedule(session, seed)
        return
    if patient_count == 0:
        return
    choices = demo_seed.provider_choices(session)
    with click.progressbar(length=patient_count, label=f"Seeding {patient_count} patients (seed {seed})") as bar:
        stats = demo_seed.seed_patients(session, patient_count, seed=seed, batch_size=batch_size,
                                        providers=choices, progress=bar.update, parallel=parallel)
    click.echo(
        f"Seeded {stats['patients']} patients ({stats['near_duplicates']} deliberate near-duplicates, "
        f"{stats['search_terms']} search terms) in {stats['seconds']:.1f} s."
    )
    _seed_demo_schedule(session, seed)


def _seed_demo_schedule(session, seed):
    """Locations, rooms, types, hours and appointments around today (once: skipped when any exist)."""
    from .services import demo_seed

    stats = demo_seed.seed_schedule(session, seed=seed)
    if stats is None:
        click.echo("Appointments already exist (or no patients): skipped seeding the schedule.")
    else:
        click.echo(f"Seeded {stats['appointments']} appointments at {stats['locations']} locations "
                   f"({stats['types']} appointment types) in {stats['seconds']:.1f} s.")
    _seed_demo_billing(session, seed)


def _seed_demo_billing(session, seed):
    """Billing settings, payers, coverages, fees, encounters, eligibility checks, copays (once)."""
    from .services import demo_seed

    stats = demo_seed.seed_billing(session, seed=seed)
    if stats is None:
        click.echo("Payers already exist (or no patients): skipped seeding billing.")
        return
    click.echo(f"Seeded billing: {stats['payers']} payers, {stats['coverages']} coverages "
               f"({stats['self_pay']} self-pay, {stats['secondary']} secondary), {stats['fees']} fees, "
               f"{stats['encounters']} encounters ({stats['diagnoses']} diagnoses, {stats['charges']} charge lines), "
               f"{stats['eligibility_checks']} eligibility checks, {stats['copays']} copays "
               f"in {stats['seconds']:.1f} s.")
    if not stats["code_set"]:
        click.echo("No ICD-10-CM code set is loaded: skipped the demo encounters "
                   "(load one with `flask clinic load-icd10 --default` before seeding).")


@clinic_cli.command("roles-matrix")
def roles_matrix_command():
    """Print the role x resource x permission matrix (Markdown), as the README shows it."""
    from .security import permission_matrix_markdown

    click.echo(permission_matrix_markdown())


@clinic_cli.command("check")
@with_appcontext
def check_command():
    """Check every view's declarations (columns exist, search columns set); exit 1 on errors."""
    from .checks import check_declarations

    errors = check_declarations(current_app.appbuilder)
    for line in errors:
        click.echo(line)
    if errors:
        sys.exit(1)
    click.echo("All view declarations are valid.")


@clinic_cli.command("audit-verify")
@with_appcontext
def audit_verify_command():
    """Check the audit trail's hash chain and its anchors; exit 1 on any problem."""
    from .services import audit

    with db.engine.connect() as conn:
        problems, last = audit.verify(conn, audit.read_anchors(audit.anchor_path()))
    for line in problems:
        click.echo(line)
    if problems:
        click.echo(f"Audit trail damaged: {len(problems)} problem(s) in {last} rows.", err=True)
        sys.exit(1)
    click.echo(f"Audit trail intact: {last} rows, chain and anchors verified.")


@clinic_cli.command("audit-anchor")
@with_appcontext
def audit_anchor_command():
    """Write the audit chain head to the append-only anchor file (run from cron)."""
    from .services import audit

    with db.engine.connect() as conn:
        seq, digest = audit.anchor_now(conn)
    click.echo(f"Anchored row {seq}: {digest}")


from . import cli_backup  # noqa: E402,F401
from . import cli_auth  # noqa: E402,F401
from . import cli_letters  # noqa: E402,F401
from . import cli_i18n  # noqa: E402,F401
from . import cli_reports  # noqa: E402,F401
from . import cli_crypto  # noqa: E402,F401
from . import cli_downtime  # noqa: E402,F401
from . import cli_reminders  # noqa: E402,F401
from . import cli_scheduling  # noqa: E402,F401
from . import cli_documents  # noqa: E402,F401
from . import cli_billing  # noqa: E402,F401
from . import cli_eligibility  # noqa: E402,F401
from . import cli_payer_files  # noqa: E402,F401

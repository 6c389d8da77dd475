"""`flask clinic unlock-user` and `flask clinic reset-2fa`: account recovery from the shell."""
import click
from flask import current_app
from flask.cli import with_appcontext

from .cli import clinic_cli


def _user_or_fail(username):
    user = current_app.appbuilder.sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


@clinic_cli.command("unlock-user")
@click.argument("username")
@with_appcontext
def unlock_user_command(username):
    """Lift the lockout of USERNAME after too many failed logins (audited)."""
    user = _user_or_fail(username)
    if current_app.appbuilder.sm.unlock_user(user, by="cli"):
        click.echo(f"{username} unlocked.")
    else:
        click.echo(f"{username} was not locked.")


@clinic_cli.command("reset-2fa")
@click.argument("username")
@with_appcontext
def reset_2fa_command(username):
    """Remove USERNAME's authenticator (lost phone); they set up a new one at next sign-in (audited)."""
    user = _user_or_fail(username)
    if current_app.appbuilder.sm.reset_totp(user, by="cli"):
        click.echo(f"Two-step sign-in reset for {username}.")
    else:
        click.echo(f"{username} had no two-step sign-in.")


@clinic_cli.command("set-password")
@click.argument("username")
@click.option("--generate", is_flag=True, help="Generate a random password and print it once.")
@with_appcontext
def set_password_command(username, generate):
    """Set USERNAME's password under the password policy; their other sessions end."""
    import secrets

    from .services.auth import WeakPasswordError

    sm = current_app.appbuilder.sm
    user = _user_or_fail(username)
    if generate:
        password = secrets.token_urlsafe(15)
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        sm.check_new_password(password, username=username)
    except WeakPasswordError as exc:
        raise click.ClickException(f"password refused: {exc.message}") from None
    sm.reset_password(user.id, password)
    click.echo(f"Password of {username} changed." + (f" New password: {password}" if generate else ""))

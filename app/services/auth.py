"""Authentication rules: password policy, lockout, TOTP, session lifetimes.

Plain functions (no Flask request objects); app/auth_manager.py wires them into FAB's
security manager. `now()` is the one clock: tests replace it to travel in time.
"""
import functools
import hmac
import os
import re
import string
import unicodedata
from datetime import datetime, timedelta, timezone

import pyotp
import segno
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, update

from .errors import DomainError

COMMON_PASSWORDS_FILE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "common-passwords.txt")


def now():
    """The current time, timezone-aware UTC (replaced in tests)."""
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- passwords
# NIST SP 800-63B 5.1.1.2: a minimum length, a generous maximum, no composition rules,
# and a check against commonly used, expected or context-specific passwords.

class WeakPasswordError(DomainError):
    default_message = _l("This password is not allowed.")


@functools.lru_cache(maxsize=1)
def common_passwords():
    """The shipped list of the 10,000 most common passwords (lower case)."""
    with open(COMMON_PASSWORDS_FILE, encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip() and not line.startswith("#"))


_KEYBOARD_RUNS = ("0123456789", string.ascii_lowercase, "qwertyuiop", "asdfghjkl", "zxcvbnm",
                  "qwertyuiopasdfghjklzxcvbnm")
_DECORATION = string.digits + string.punctuation + string.whitespace


def _is_run(text):
    """True for a stretch of one keyboard or alphabet run, forwards or backwards, wrapping."""
    for run in _KEYBOARD_RUNS:
        for seq in (run, run[::-1]):
            if text in seq * (len(text) // len(seq) + 2):
                return True
    return False


def _is_predictable(text):
    if len(set(text)) <= 3 or _is_run(text):
        return True
    repeated = re.fullmatch(r"(.+?)\1+", text, re.S)
    return bool(repeated) and (len(repeated.group(1)) <= 4 or _is_common(repeated.group(1)))


def _is_common(text):
    common = common_passwords()
    if text in common:
        return True
    # "Password2024!" is "password" with decoration: the decoration adds next to nothing.
    core = text.strip(_DECORATION)
    return len(core) >= 4 and core in common


def check_password(password, *, username=None, min_length=12, max_length=128):
    """Raise WeakPasswordError (with the reason, translated) unless `password` may be used."""
    text = unicodedata.normalize("NFKC", password or "")
    if len(text) < min_length:
        raise WeakPasswordError(_l(
            "Use at least %(num)d characters. A few unrelated words make a password that is "
            "long and easy to remember.", num=min_length))
    if len(text) > max_length:
        raise WeakPasswordError(_l("Use at most %(num)d characters.", num=max_length))
    folded = text.casefold()
    name = unicodedata.normalize("NFKC", username or "").casefold().strip()
    if len(name) >= 3 and name in folded:
        raise WeakPasswordError(_l("The password must not contain the user name."))
    if _is_common(folded):
        raise WeakPasswordError(_l(
            "This password is on a list of the most commonly used passwords. Choose another one."))
    if _is_predictable(folded):
        raise WeakPasswordError(_l(
            "This password is too predictable (repeated or sequential characters). Choose another one."))


# --------------------------------------------------------------------------- lockout

def lockout_expired(locked_at, *, minutes, at):
    """True when an automatic unlock is configured (minutes > 0) and its time has come."""
    return bool(minutes) and locked_at is not None and at >= locked_at + timedelta(minutes=minutes)


def register_failed_login(session, user_model, user_id, *, threshold, at):
    """Count one more consecutive failure (atomically); lock at `threshold`. Commits.

    Returns (failures, locked_now). threshold 0 disables the lockout.
    """
    table = user_model.__table__
    failures = session.execute(
        update(table).where(table.c.id == user_id)
        .values(fail_login_count=func.coalesce(table.c.fail_login_count, 0) + 1)
        .returning(table.c.fail_login_count)
    ).scalar_one()
    locked_now = False
    if threshold and failures >= threshold:
        locked_now = session.execute(
            update(table).where(table.c.id == user_id, table.c.locked_at.is_(None)).values(locked_at=at)
        ).rowcount == 1
    session.commit()
    return failures, locked_now


def unlock(session, user_model, user_id):
    """Lift a lockout and reset the failure count; return whether the account was locked. Commits."""
    table = user_model.__table__
    was_locked = session.execute(
        update(table).where(table.c.id == user_id, table.c.locked_at.is_not(None))
        .values(locked_at=None, fail_login_count=0)
    ).rowcount == 1
    session.commit()
    return was_locked


def bump_session_generation(session, user_model, user_id):
    """End every session of the user (their cookies carry the old generation). Commits."""
    table = user_model.__table__
    generation = session.execute(
        update(table).where(table.c.id == user_id)
        .values(session_generation=table.c.session_generation + 1)
        .returning(table.c.session_generation)
    ).scalar_one()
    session.commit()
    return generation


# --------------------------------------------------------------------------- TOTP (RFC 6238)

TOTP_DIGITS = 6
TOTP_INTERVAL = 30


def new_totp_secret():
    """A random 160-bit base32 secret."""
    return pyotp.random_base32()


def totp_uri(secret, *, account, issuer):
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(data):
    """The QR code of `data` as inline SVG markup (rendered here: nothing is fetched)."""
    return segno.make(data, error="m").svg_inline(scale=5, title="QR code")


def totp_code(secret, at):
    """The code an authenticator shows at `at` (for tests and diagnostics)."""
    return pyotp.TOTP(secret).at(at)


def totp_match(secret, code, *, at, last_step=None):
    """The time step `code` is valid for (one step of clock drift either way), or None.

    Steps at or before `last_step` are refused: a code works once.
    """
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{%d}" % TOTP_DIGITS, code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    current = totp.timecode(at)
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def claim_totp_step(session, user_model, user_id, step):
    """Record `step` as used unless it (or a later one) already was; True if claimed. Commits.

    Atomic, so the same code sent twice at once is accepted once.
    """
    table = user_model.__table__
    claimed = session.execute(
        update(table)
        .where(table.c.id == user_id, (table.c.totp_last_step.is_(None)) | (table.c.totp_last_step < step))
        .values(totp_last_step=step)
    ).rowcount == 1
    session.commit()
    return claimed


def mfa_required(role_names, required_roles):
    """True when any of the user's roles is configured to require a second factor."""
    return bool(set(role_names) & set(required_roles or ()))


# --------------------------------------------------------------------------- sessions

def new_session_state(generation, at):
    """What a signed-in session remembers: generation, sign-in time and last activity (epoch s)."""
    stamp = int(at.timestamp())
    return {"gen": generation, "at": stamp, "seen": stamp}


def session_problem(state, *, generation, at, idle_minutes, max_hours):
    """Why a signed-in session must end now ('revoked', 'expired', 'idle'), or None."""
    if not isinstance(state, dict) or state.get("gen") != generation:
        return "revoked"
    stamp = int(at.timestamp())
    if max_hours and stamp - state.get("at", 0) >= max_hours * 3600:
        return "expired"
    if idle_minutes and stamp - state.get("seen", 0) >= idle_minutes * 60:
        return "idle"
    return None

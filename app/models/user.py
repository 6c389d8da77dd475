"""ClinicDesk's user: FAB's ab_user plus lockout, second factor, sessions and language.

FAB supports a custom user model through `SecurityManager.user_model`; the subclass
adds columns to the same ab_user table (FAB's Model declares extend_existing). The
security manager loads ClinicUser everywhere; FAB's own `User` class is still mapped and
is what `created_by` relationships return (read-only use).
"""
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, Column, Integer, String
from sqlalchemy.orm import validates

from .base import UTCDateTime


class ClinicUser(User):
    __tablename__ = "ab_user"
    # The audit trail masks the secret and leaves out bookkeeping that has its own events
    # (lockout/unlock, logout, session ends).
    __audit_secret__ = ("totp_secret",)
    __audit_skip__ = ("session_generation", "totp_last_step", "locked_at")

    # Set when consecutive failed logins reach AUTH_LOCKOUT_THRESHOLD; fail_login_count
    # (FAB's column) holds the count and is reset by a successful login.
    locked_at = Column(UTCDateTime, nullable=True)
    # TOTP secret, Fernet-encrypted (app/services/crypto.py); NULL means no second factor.
    totp_secret = Column(String(255), nullable=True)
    # Last accepted TOTP time step: a code is accepted once only.
    totp_last_step = Column(BigInteger, nullable=True)
    # Stamped into every session at login; bumping it ends all of the user's sessions
    # (logout, password reset, account disabled) even if an old cookie is replayed.
    session_generation = Column(Integer, nullable=False, default=0, server_default="0")
    # Interface language chosen by the user (None: the clinic default).
    locale = Column(String(10), nullable=True)

    @property
    def is_locked(self):
        return self.locked_at is not None

    @property
    def has_totp(self):
        return self.totp_secret is not None

    @validates("active")
    def _end_sessions_when_disabled(self, key, value):
        """Disabling an account ends its sessions; enabling it again does not revive them."""
        if self.active and not value:
            self.session_generation = (self.session_generation or 0) + 1
        return value

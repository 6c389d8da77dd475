"""AuthHardeningMixin: what FAB's security manager lacks for HIPAA sign-in.

Mixed in before FAB's SecurityManager (see app/security.py): password policy on every
form and the CLI, one shared login throttle on the form, the second step and the API,
lockout after consecutive failures, an optional TOTP second factor (required per role),
idle and absolute session limits, and server-side logout through a per-user session
generation that every session (cookie or JWT) carries. The rules are in
app/services/auth.py; this module holds the Flask and FAB wiring.
"""
import logging

from flask import current_app, flash, g, has_request_context, jsonify, redirect, request, session, url_for
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user, user_logged_in, user_logged_out
from werkzeug.security import check_password_hash

from .extensions import db
from .services import audit, crypto
from .services import auth

log = logging.getLogger("clinicdesk.auth")

# Defaults of the configuration keys (config.py sets them; these cover bare test apps).
DEFAULTS = {
    "PASSWORD_MIN_LENGTH": 12,
    "PASSWORD_MAX_LENGTH": 128,
    "AUTH_LOCKOUT_THRESHOLD": 5,
    "AUTH_LOCKOUT_MINUTES": 0,
    "MFA_REQUIRED_ROLES": [],
    "MFA_ISSUER": "ClinicDesk",
    "SESSION_IDLE_MINUTES": 15,
    "SESSION_MAX_HOURS": 12,
}
SESSION_KEY = "_cd_auth"  # {"gen", "at", "seen"} of the signed-in session
PENDING_KEY = "_cd_pending"  # {"uid", "stage", "at", "next"} between the password and the second step
PENDING_SECONDS = 300
BACKGROUND_HEADER = "X-Background-Refresh"  # requests of self-refreshing pages: not activity
LOGIN_ENDPOINTS = {"AuthDBView.login", "TwoFactorView.verify", "TwoFactorView.enroll", "SecurityApi.login"}
UNGUARDED_ENDPOINTS = {"static", "appbuilder.static"}
ENROLLMENT_ENDPOINTS = {"TwoFactorView.enroll", "AuthDBView.logout", "AuthDBView.login"}

SESSION_END_MESSAGES = {
    "idle": lambda: _l("You were signed out after %(num)d minutes without activity.", num=setting("SESSION_IDLE_MINUTES")),
    "expired": lambda: _l("You were signed out: a session lasts at most %(num)d hours. Please sign in again.",
                          num=setting("SESSION_MAX_HOURS")),
    "revoked": lambda: _l("Your session has ended. Please sign in again."),
    "disabled": lambda: _l("Your session has ended. Please sign in again."),
}


def setting(name):
    return current_app.config.get(name, DEFAULTS[name])


def invalid_login_message():
    """The one message for every failed sign-in: it never tells whether the account exists."""
    threshold, minutes = setting("AUTH_LOCKOUT_THRESHOLD"), setting("AUTH_LOCKOUT_MINUTES")
    if not threshold:
        return _l("Invalid login. Please try again.")
    if minutes:
        return _l("Invalid login. Please try again. After %(num)d failed attempts in a row an account is "
                  "locked for %(minutes)d minutes.", num=threshold, minutes=minutes)
    return _l("Invalid login. Please try again. After %(num)d failed attempts in a row an account is "
              "locked until an administrator unlocks it.", num=threshold)


def _username_for_password_form():
    """Whose password a FAB form or API request is setting (for the user-name rule)."""
    if not has_request_context():
        return None
    sm = current_app.appbuilder.sm
    endpoint = request.endpoint or ""
    if endpoint.startswith("ResetMyPasswordView.") and current_user.is_authenticated:
        return current_user.username
    pk = request.args.get("pk") or (request.view_args or {}).get("pk")
    if pk is not None and str(pk).isdigit():
        user = sm.get_user_by_id(int(pk))
        if user is not None:
            return user.username
    payload = request.get_json(silent=True) if request.is_json else None
    return request.form.get("username") or (payload or {}).get("username")


def password_complexity_validator(password):
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: the clinic's policy on every FAB form and API."""
    try:
        current_app.appbuilder.sm.check_new_password(password, username=_username_for_password_form())
    except auth.WeakPasswordError as exc:
        raise PasswordComplexityValidationError(str(exc.message)) from None


def _is_login_request():
    return request.endpoint in LOGIN_ENDPOINTS


FAILED_LOGIN_MARK = "clinicdesk.login_failed"


def note_failed_login():
    """Count this request against the login throttle (successful sign-ins are not counted,
    so a whole clinic behind one address can still start its day)."""
    request.environ[FAILED_LOGIN_MARK] = True


def _was_failed_login(response):
    return bool(request.environ.get(FAILED_LOGIN_MARK))


def _wants_json():
    return (request.headers.get(BACKGROUND_HEADER) == "1" or request.path.startswith("/api/")
            or request.is_json or request.accept_mimetypes.best == "application/json")


def throttled(error):
    """429 for the login throttle: JSON for the API, a short page for the browser."""
    message = str(_l("Too many sign-in attempts from this address. Wait a few minutes, then try again."))
    if _wants_json():
        return jsonify(message=message), 429
    return current_app.appbuilder.sm.auth_view.render_template("auth/throttled.html", message=message), 429


class AuthHardeningMixin:
    """Put before FAB's SecurityManager: `class X(AuthHardeningMixin, SecurityManager)`."""

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        app = current_app._get_current_object()
        app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", password_complexity_validator)
        user_logged_in.connect(self._stamp_new_session, app)
        user_logged_out.connect(self._forget_session, app)
        self.jwt_manager.additional_claims_loader(self._jwt_claims)

    # ------------------------------------------------------------------ views and throttle

    @property
    def is_auth_limited(self):
        # FAB would limit the login form only (and count every POST); register_views puts
        # one shared limit on failed attempts at the form, the second step and the API login.
        return False

    def register_views(self):
        super().register_views()
        if not current_app.config.get("FAB_ADD_SECURITY_VIEWS", True):
            return
        from .views.auth import TwoFactorView

        two_factor = self.appbuilder.add_view_no_menu(TwoFactorView())
        current_app.register_error_handler(429, throttled)
        if current_app.config.get("AUTH_RATE_LIMITED"):
            limit = self.limiter.shared_limit(
                current_app.config["AUTH_RATE_LIMIT"], scope="login", methods=["POST"],
                exempt_when=lambda: not _is_login_request(), deduct_when=_was_failed_login,
            )
            api = next(v for v in self.appbuilder.baseviews if isinstance(v, self.security_api))
            for view in (self.auth_view, two_factor, api):
                limit(view.blueprint)

    # ------------------------------------------------------------------ password policy

    def check_new_password(self, password, username=None):
        """Raise auth.WeakPasswordError unless `password` meets the policy."""
        auth.check_password(password, username=username, min_length=setting("PASSWORD_MIN_LENGTH"),
                            max_length=setting("PASSWORD_MAX_LENGTH"))

    def reset_password(self, userid, password):
        """A new password ends the account's other sessions (this one stays signed in)."""
        super().reset_password(userid, password)
        user = self.get_user_by_id(userid)
        if user is None:
            return
        self.end_all_sessions(user)
        if has_request_context() and current_user.is_authenticated and current_user.id == user.id:
            state = session.get(SESSION_KEY)
            if state:
                session[SESSION_KEY] = dict(state, gen=user.session_generation)

    # ------------------------------------------------------------------ password step and lockout

    def auth_user_db(self, username, password):
        user = None
        if username:
            user = self.find_user(username=username) or self.find_user(email=username)
        if user is not None and user.is_active and user.is_locked and not self._auto_unlock(user):
            # Same work as a real check, so a locked account answers as fast as any other.
            check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
            self.on_user_login_failed(user)
            return None
        return super().auth_user_db(username, password)

    def update_user_auth_stat(self, user, success=True):
        if not success:
            self.register_failure(user)
        elif self.second_step(user) is None:
            super().update_user_auth_stat(user, True)
        # else: the password was right, but the login (and the reset of the failure
        # count) completes only after the second factor: see complete_login().

    def complete_login(self, user):
        """Count a successful login (resets the failure count, audits 'login')."""
        super().update_user_auth_stat(user, True)

    def register_failure(self, user):
        """One more consecutive failure (password or code); locks the account at the threshold."""
        failures, locked_now = auth.register_failed_login(
            self.session, self.user_model, user.id, threshold=setting("AUTH_LOCKOUT_THRESHOLD"), at=auth.now())
        self._expire(user, "fail_login_count", "locked_at")
        self.on_user_login_failed(user)
        if locked_now:
            log.warning("account %s locked after %s failed logins", user.username, failures)
            self.audit_user_event("lockout", user, details={"failures": failures})

    def _auto_unlock(self, user):
        if auth.lockout_expired(user.locked_at, minutes=setting("AUTH_LOCKOUT_MINUTES"), at=auth.now()):
            return self.unlock_user(user, by="auto")
        return False

    def unlock_user(self, user, *, by="admin"):
        """Lift the lockout of `user` (audited 'unlock'); return whether it was locked."""
        was_locked = auth.unlock(self.session, self.user_model, user.id)
        self._expire(user, "fail_login_count", "locked_at")
        if was_locked:
            self.audit_user_event("unlock", user, details={"by": by})
        return was_locked

    # ------------------------------------------------------------------ second factor

    def mfa_required(self, user):
        required = setting("MFA_REQUIRED_ROLES")
        return bool(required) and auth.mfa_required([r.name for r in user.roles], required)

    def second_step(self, user):
        """'verify' (has TOTP), 'enroll' (role requires it, none yet) or None."""
        if user.has_totp:
            return "verify"
        if self.mfa_required(user):
            return "enroll"
        return None

    def verify_totp(self, user, code):
        """True if `code` is the user's current code and was not used before."""
        try:
            secret = crypto.decrypt(user.totp_secret)
        except crypto.DecryptionError:
            log.error("TOTP secret of %s cannot be decrypted: check FIELD_ENCRYPTION_KEY", user.username)
            return False
        step = auth.totp_match(secret, code, at=auth.now(), last_step=user.totp_last_step)
        if step is None or not auth.claim_totp_step(self.session, self.user_model, user.id, step):
            return False
        self._expire(user, "totp_last_step")
        return True

    def enroll_totp(self, user, secret, code):
        """Turn the second factor on with `secret` once `code` proves the app has it."""
        step = auth.totp_match(secret, code, at=auth.now())
        if step is None:
            return False
        user.totp_secret = crypto.encrypt(secret)
        user.totp_last_step = step
        self.session.commit()
        self.audit_user_event("mfa_enroll", user)
        return True

    def reset_totp(self, user, *, by="admin"):
        """Remove the user's second factor (lost phone); they enroll again at next sign-in."""
        if not user.has_totp:
            return False
        user.totp_secret = None
        user.totp_last_step = None
        self.session.commit()
        self.audit_user_event("mfa_reset", user, details={"by": by})
        return True

    def api_second_factor_problem(self, user, code):
        """None if an API login may proceed; else why not. Completes the login on success."""
        step = self.second_step(user)
        if step is None:
            return None
        if step == "enroll":
            return _l("Your role requires two-step sign-in: set it up in the browser first.")
        if not code:
            return _l("Two-step sign-in code required (field 'totp').")
        if not self.verify_totp(user, code):
            self.register_failure(user)
            return invalid_login_message()
        self.complete_login(user)
        return None

    # ------------------------------------------------------------------ sessions

    def _stamp_new_session(self, app, user, **_):
        """Every sign-in (Flask-Login's user_logged_in) starts a fresh session state."""
        session.pop(PENDING_KEY, None)
        session[SESSION_KEY] = auth.new_session_state(user.session_generation or 0, auth.now())

    def _forget_session(self, app, user=None, **_):
        session.pop(SESSION_KEY, None)

    def end_all_sessions(self, user):
        """Server-side logout: every cookie or token issued before now stops working."""
        auth.bump_session_generation(self.session, self.user_model, user.id)
        self._expire(user, "session_generation")

    def before_request(self):
        # Load the user from this request's cookie. (Flask-Login caches it in g, and
        # requests inside one app context, as in tests, would share that cache.)
        g.pop("_login_user", None)
        g.user = current_user
        if request.endpoint in UNGUARDED_ENDPOINTS:
            return None
        return self._guard_session()

    def _guard_session(self):
        state = session.get(SESSION_KEY)
        if not current_user.is_authenticated:
            if state is not None or "_user_id" in session:
                # load_user refused the account behind this cookie: disabled or deleted.
                self._end_session("disabled", user_id=session.get("_user_id"))
                return self._after_session_end("disabled")
            return None
        user = current_user._get_current_object()
        reason = auth.session_problem(state, generation=user.session_generation, at=auth.now(),
                                      idle_minutes=setting("SESSION_IDLE_MINUTES"),
                                      max_hours=setting("SESSION_MAX_HOURS"))
        if reason:
            self._end_session(reason, user=user)
            return self._after_session_end(reason)
        if request.headers.get(BACKGROUND_HEADER) != "1":
            session[SESSION_KEY] = dict(state, seen=int(auth.now().timestamp()))
        if (request.endpoint not in ENROLLMENT_ENDPOINTS and not user.has_totp and self.mfa_required(user)):
            return redirect(url_for("TwoFactorView.enroll"))
        return None

    def _end_session(self, reason, *, user=None, user_id=None):
        who = user or (self.get_user_by_id(int(user_id)) if str(user_id or "").isdigit() else None)
        logout_user()
        g.user = current_user
        if who is not None:
            self.audit_user_event("session_end", who, details={"reason": reason}, as_subject=True)

    def _after_session_end(self, reason):
        message = str(SESSION_END_MESSAGES[reason]())
        if _wants_json():
            return jsonify(message=message), 401
        flash(message, "warning")
        if request.method == "GET" and request.endpoint not in LOGIN_ENDPOINTS:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path.rstrip("?")))
        return None

    def _jwt_claims(self, identity):
        """Access and refresh tokens carry the session generation too."""
        user = self.get_user_by_id(int(identity)) if str(identity).isdigit() else None
        return {"gen": user.session_generation} if user is not None else {}

    def load_user_jwt(self, _jwt_header, jwt_data):
        user = self.load_user(jwt_data["sub"])
        if user is None or jwt_data.get("gen") != user.session_generation:
            return None
        g.user = user
        return user

    # ------------------------------------------------------------------ helpers

    def audit_user_event(self, action, user, *, details=None, as_subject=False):
        """Audit a security event about `user`, in its own transaction.

        The actor is the signed-in user (an administrator unlocking someone); with nobody
        signed in, or as_subject=True, the event is filed under the account itself.
        """
        who = audit.actor()
        if as_subject or who.get("user_id") is None:
            who = dict(who, user_id=user.id, username=user.username)
        details = dict(details or {}, user=user.username)
        audit.record(db.engine, action=action, object_type="User",
                     object_id=user.id, details=details, who=who)

    def _expire(self, user, *attrs):
        if user in self.session:
            self.session.expire(user, list(attrs))

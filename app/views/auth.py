"""Sign-in views: the password step, the TOTP second step and enrollment, user admin actions.

AuthDBView, UserDBModelView and SecurityApi keep FAB's class names on purpose: the
endpoints (AuthDBView.login, UserDBModelView.userinfo, ...) and permission names stay
what FAB, the roles and the tests know.
"""
import time

from flask import abort, flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.actions import action
from flask_appbuilder.api import safe
from flask_appbuilder.const import API_SECURITY_ACCESS_TOKEN_KEY, API_SECURITY_PROVIDER_DB, API_SECURITY_REFRESH_TOKEN_KEY
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.security.decorators import has_access, no_cache
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.forms import ResetPasswordForm as FabResetPasswordForm
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.security.views import AuthDBView as FabAuthDBView
from flask_appbuilder.security.views import ResetMyPasswordView as FabResetMyPasswordView
from flask_appbuilder.security.views import ResetPasswordView as FabResetPasswordView
from flask_appbuilder.security.views import UserDBModelView as FabUserDBModelView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import create_access_token, create_refresh_token
from flask_login import current_user, login_user
from markupsafe import Markup
from marshmallow import ValidationError
from flask_appbuilder.validators import PasswordComplexityValidator
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..auth_manager import PENDING_KEY, PENDING_SECONDS, invalid_login_message, note_failed_login, setting
from ..services import auth, crypto

NEW_SECRET_KEY = "_cd_totp_new"  # {"uid", "secret" (encrypted)} while enrolling


# --------------------------------------------------------------------------- pending second step

def begin_second_step(user, stage, next_url):
    """The password was right; remember who is half signed in (not signed in yet)."""
    session[PENDING_KEY] = {"uid": user.id, "stage": stage, "at": int(time.time()), "next": next_url}


def pending_user(sm, stage):
    """The half-signed-in user waiting for `stage`, or None (none, other stage, too old)."""
    pending = session.get(PENDING_KEY)
    if not pending or pending.get("stage") != stage:
        return None
    if time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    user = sm.get_user_by_id(pending["uid"])
    if user is None or not user.is_active or user.is_locked:
        session.pop(PENDING_KEY, None)
        return None
    return user


def finish_sign_in(sm, user):
    """Second step passed: count the login, sign in, go where the user was going."""
    next_url = get_safe_redirect((session.get(PENDING_KEY) or {}).get("next") or "")
    sm.complete_login(user)
    login_user(user, remember=False)
    return redirect(next_url)


def back_to_login(message):
    session.pop(PENDING_KEY, None)
    flash(as_unicode(message), "warning")
    return redirect(url_for("AuthDBView.login"))


class TotpForm(DynamicForm):
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[DataRequired(), Length(max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )


WRONG_CODE = _l("That code is not valid. Enter the code your authenticator app shows now.")


class TwoFactorView(BaseView):
    """TOTP (RFC 6238): the second sign-in step and the enrollment page."""

    route_base = "/auth/2fa"
    default_view = "enroll"
    # verify runs before sign-in completes, so it cannot need a permission; enroll for a
    # signed-in user needs can_enroll (every role has it: see COMMON in app/security.py).
    base_permissions = ["can_enroll"]

    @expose("/verify", methods=["GET", "POST"])
    @no_cache
    def verify(self):
        sm = self.appbuilder.sm
        user = pending_user(sm, "verify")
        if user is None:
            return back_to_login(_l("Please sign in again."))
        form = TotpForm()
        if form.validate_on_submit():
            if sm.verify_totp(user, form.code.data):
                return finish_sign_in(sm, user)
            note_failed_login()
            sm.register_failure(user)
            if user.is_locked:
                return back_to_login(invalid_login_message())
            flash(as_unicode(WRONG_CODE), "warning")
            return redirect(url_for(".verify"))
        return self.render_template("auth/totp_verify.html", form=form, title=_l("Two-step sign-in"))

    @expose("/enroll", methods=["GET", "POST"])
    @no_cache
    def enroll(self):
        sm = self.appbuilder.sm
        user = pending_user(sm, "enroll")
        half_signed_in = user is not None
        if not half_signed_in:
            if not current_user.is_authenticated:
                return redirect(self.appbuilder.get_url_for_login_with(request.path))
            if not sm.has_access("can_enroll", self.class_permission_name):
                abort(403)
            user = sm.get_user_by_id(current_user.id)
        if user.has_totp:
            return self.render_template("auth/totp_enroll.html", enrolled=True, title=_l("Two-step sign-in"))
        secret = self._secret_being_enrolled(user)
        form = TotpForm()
        if form.validate_on_submit():
            if sm.enroll_totp(user, secret, form.code.data):
                session.pop(NEW_SECRET_KEY, None)
                flash(as_unicode(_l("Two-step sign-in is on: from now on you will be asked for a code "
                                    "after your password.")), "success")
                if half_signed_in:
                    return finish_sign_in(sm, user)
                return redirect(self.appbuilder.get_url_for_index)
            note_failed_login()
            flash(as_unicode(WRONG_CODE), "warning")
        uri = auth.totp_uri(secret, account=user.username, issuer=setting("MFA_ISSUER"))
        return self.render_template(
            "auth/totp_enroll.html", enrolled=False, form=form, title=_l("Set up two-step sign-in"),
            qr=Markup(auth.qr_svg(uri)), secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
            required=sm.mfa_required(user),
        )

    @staticmethod
    def _secret_being_enrolled(user):
        """The same new secret across reloads (the QR code must not change after a scan),
        kept encrypted in the session until it is confirmed."""
        kept = session.get(NEW_SECRET_KEY)
        if kept and kept.get("uid") == user.id:
            try:
                return crypto.decrypt(kept["secret"])
            except crypto.DecryptionError:
                pass
        secret = auth.new_totp_secret()
        session[NEW_SECRET_KEY] = {"uid": user.id, "secret": crypto.encrypt(secret)}
        return secret


# --------------------------------------------------------------------------- password step

class AuthDBView(FabAuthDBView):
    """FAB's login form, plus the second step, lockout and server-side logout."""

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if form.validate_on_submit():
            sm = self.appbuilder.sm
            next_url = get_safe_redirect(request.args.get("next", ""))
            user = sm.auth_user_db(form.username.data, form.password.data)
            if not user:
                note_failed_login()
                flash(as_unicode(invalid_login_message()), "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            stage = sm.second_step(user)
            if stage is None:
                login_user(user, remember=False)
                return redirect(next_url)
            begin_second_step(user, stage, next_url)
            return redirect(url_for(f"TwoFactorView.{stage}"))
        return self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)

    @expose("/logout/")
    def logout(self):
        user = self._get_authenticated_user()
        if user is not None:
            self.appbuilder.sm.end_all_sessions(user)
        session.pop(PENDING_KEY, None)
        return super().logout()


# --------------------------------------------------------------------------- user administration

def _as_list(items):
    return items if isinstance(items, list) else [items]


class UserDBModelView(FabUserDBModelView):
    """FAB's user list with lockout and second-factor state, and the actions on them."""

    list_columns = ["first_name", "last_name", "username", "email", "active", "is_locked", "has_totp", "roles"]
    label_columns = dict(FabUserDBModelView.label_columns, is_locked=_l("Locked?"), locked_at=_l("Locked at"),
                         has_totp=_l("Two-step sign-in?"))
    show_fieldsets = FabUserDBModelView.show_fieldsets + [
        (_l("Sign-in security"), {"fields": ["is_locked", "locked_at", "fail_login_count", "has_totp"]}),
    ]
    user_show_fieldsets = [
        (_l("User info"), {"fields": ["username", "active", "roles", "login_count", "has_totp"]}),
        (_l("Personal Info"), {"fields": ["first_name", "last_name", "email"], "expanded": True}),
    ]

    def _apply(self, items, change, done, none):
        """Run sm.<change>(user, by="admin") on each selected user; flash who changed."""
        method = getattr(self.appbuilder.sm, change)
        names = [user.username for user in _as_list(items) if method(user, by="admin")]
        if names:
            flash(as_unicode(done % {"names": ", ".join(names)}), "success")
        else:
            flash(as_unicode(none), "info")
        return redirect(self.get_redirect())

    @action("unlock", _l("Unlock"), _l("Unlock the selected accounts?"), "fa-unlock", multiple=True)
    def action_unlock(self, items):
        return self._apply(items, "unlock_user", _l("Unlocked: %(names)s"),
                           _l("None of the selected accounts was locked."))

    @action("reset_2fa", _l("Reset two-step sign-in"),
            _l("Remove the authenticator of the selected accounts? They set up a new one at their next sign-in."),
            "fa-mobile", multiple=True)
    def action_reset_2fa(self, items):
        return self._apply(items, "reset_totp", _l("Two-step sign-in reset for: %(names)s"),
                           _l("None of the selected accounts had two-step sign-in."))

    @action("twofactor", _l("Two-step sign-in"), "", "fa-mobile", multiple=False)
    def action_twofactor(self, item):
        return redirect(url_for("TwoFactorView.enroll"))

    @expose("/userinfo/")
    @has_access
    def userinfo(self):
        # FAB's page with one more button: set up two-step sign-in.
        actions = {name: self.actions.get(name) for name in ("resetmypassword", "userinfoedit", "twofactor")}
        item = self.datamodel.get(g.user.id, self._base_filters)
        widgets = self._get_show_widget(g.user.id, item, actions=actions, show_fieldsets=self.user_show_fieldsets)
        self.update_redirect()
        return self.render_template(self.show_template, title=self.user_info_title, widgets=widgets,
                                    appbuilder=self.appbuilder)


# --------------------------------------------------------------------------- API login

class SecurityApi(FabSecurityApi):
    """FAB's /api/v1/security/login, which also asks users with a second factor for their code."""

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        """Sign in and get a JWT access token (and optionally a refresh token)
        ---
        post:
          description: >-
            Authenticate with user name and password, plus the current TOTP code
            (field totp) for accounts with two-step sign-in.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    username: {type: string}
                    password: {type: string}
                    provider: {type: string, enum: [db]}
                    refresh: {type: boolean}
                    totp: {type: string, description: Current code of the authenticator app}
          responses:
            200:
              description: Authentication Successful
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many sign-in attempts
        """
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message="Request payload is not a JSON object")
        payload = dict(request.json)
        code = payload.pop("totp", None)
        try:
            login_payload = login_post.load(payload)
        except ValidationError as error:
            return self.response_400(message=error.messages)
        if login_payload["provider"] != API_SECURITY_PROVIDER_DB:
            return self.response_400(message="Only the db provider is enabled")
        sm = self.appbuilder.sm
        user = sm.auth_user_db(login_payload["username"], login_payload["password"])
        if not user:
            note_failed_login()
            return self.response_401()
        problem = sm.api_second_factor_problem(user, code if isinstance(code, str) else None)
        if problem:
            note_failed_login()
            return self.response(401, message=str(problem))
        tokens = {API_SECURITY_ACCESS_TOKEN_KEY: create_access_token(identity=str(user.id), fresh=True)}
        if login_payload.get("refresh"):
            tokens[API_SECURITY_REFRESH_TOKEN_KEY] = create_refresh_token(identity=str(user.id))
        return self.response(200, **tokens)


PASSWORD_HINT = _l("At least 12 characters: a few unrelated words make a good one. Common passwords are refused.")


class ResetPasswordForm(FabResetPasswordForm):
    """FAB's form said the app does not check passwords; ClinicDesk does (services/auth.py)."""

    password = PasswordField(_l("Password"), description=PASSWORD_HINT,
                             validators=[DataRequired(), PasswordComplexityValidator()],
                             widget=BS3PasswordFieldWidget())


class ResetMyPasswordView(FabResetMyPasswordView):
    form = ResetPasswordForm


class ResetPasswordView(FabResetPasswordView):
    form = ResetPasswordForm

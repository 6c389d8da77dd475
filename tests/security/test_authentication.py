"""Sign-in hardening: password policy, throttling, lockout, TOTP, session limits, logout.

Everything goes through real HTTP with the test client (login form with its CSRF token,
the API login, FAB's user forms). Time is simulated by replacing app.services.auth.now.
"""
import json
import os
import re
from datetime import timedelta

import pyotp
import pytest
from flask import current_app

from app import create_app
from app.extensions import db
from app.models import AuditEvent
from app.models.user import ClinicUser
from app.services import auth as auth_service
from app.services import crypto
from tests.conftest import PASSWORD, Auth, csrf_token_from, make_user

PASSPHRASE_70 = "my grandmother's lighthouse in Porto smells of sardines and rain, every June!"


def events(action):
    db.session.expire_all()
    return db.session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.seq).all()


def reload(user):
    db.session.expire_all()
    return db.session.get(ClinicUser, user.id)


def signed_in(client):
    """True if the client's session reaches a page that needs a login."""
    return client.get("/patients/find").status_code == 200


def flashes_after(resp, client):
    """Follow a redirect and return the text of the page it lands on (with its flashes)."""
    assert resp.status_code == 302, resp.status_code
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def post_form(client, url, data):
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    return client.post(url, data=dict(data, csrf_token=token))


@pytest.fixture
def clock(monkeypatch):
    """auth.now() under the test's control: clock.advance(minutes=16)."""

    class Clock:
        def __init__(self):
            self.now = auth_service.now()

        def advance(self, **delta):
            self.now += timedelta(**delta)

    c = Clock()
    monkeypatch.setattr(auth_service, "now", lambda: c.now)
    return c


@pytest.fixture
def config(app, monkeypatch):
    """config(KEY=value): change app settings for this test only."""

    def _set(**values):
        for key, value in values.items():
            monkeypatch.setitem(app.config, key, value)

    return _set


# --------------------------------------------------------------------------- password policy

def test_policy_rules_in_one_place():
    check = auth_service.check_password
    check("x" * 5 + " correct staple battery " + "y" * 99)  # 128 characters
    check(PASSPHRASE_70)
    for weak, reason in [
        ("short one", "at least 12"),
        ("x7" + "q" * 127, "at most 128"),
        ("qwertyuiopasdf", "predictable"),
        ("password1234!", "commonly used"),  # a common password plus decoration
        ("1qaz2wsx3edc", "commonly used"),
        ("aaaaaaaaaaaaaaa", "predictable"),
        ("abcdefghijklmno", "predictable"),
        ("monkeymonkeymonkey", "predictable"),
        ("I am Jdoe and this is long", "user name"),
    ]:
        with pytest.raises(auth_service.WeakPasswordError) as err:
            check(weak, username="jdoe")
        assert reason in str(err.value.message), (weak, str(err.value.message))


def test_a_passphrase_of_more_than_64_characters_works_for_change_and_login(client, login_as, auth):
    user = login_as("FrontDesk")
    resp = post_form(client, "/resetmypassword/form", {"password": PASSPHRASE_70, "conf_password": PASSPHRASE_70})
    assert resp.status_code == 302
    assert "Password Changed" in flashes_after(resp, client)
    auth.logout()
    assert auth.login(user.username, PASSPHRASE_70).status_code == 302 and signed_in(client)


@pytest.mark.parametrize("password, message", [
    ("Tr0ub4dor&3", "Use at least 12 characters"),
    ("password123456", "list of the most commonly used passwords"),
    ("Newclerk2026 is my password", "must not contain the user name"),
])
def test_weak_passwords_are_refused_on_the_user_form_with_the_reason(client, login_as, password, message):
    login_as("Admin")
    role = current_app.appbuilder.sm.find_role("FrontDesk")
    resp = post_form(client, "/users/add", {
        "first_name": "New", "last_name": "Clerk", "username": "newclerk", "email": "newclerk@clinic.test",
        "active": "y", "roles": str(role.id), "password": password, "conf_password": password,
    })
    assert resp.status_code == 200
    assert message in resp.get_data(as_text=True)
    assert current_app.appbuilder.sm.find_user(username="newclerk") is None


def test_own_password_may_not_contain_the_own_user_name(client, login_as):
    user = login_as("Billing")
    weak = f"{user.username.upper()} forever and ever"
    resp = post_form(client, "/resetmypassword/form", {"password": weak, "conf_password": weak})
    assert resp.status_code == 200 and "must not contain the user name" in resp.get_data(as_text=True)


def test_init_refuses_a_weak_admin_password(runner):
    result = runner.invoke(args=["clinic", "init", "--admin-username", "chief", "--admin-password", "letmein"])
    assert result.exit_code == 1
    assert "password for chief refused: Use at least 12 characters" in result.output
    assert current_app.appbuilder.sm.find_user(username="chief") is None


# --------------------------------------------------------------------------- throttling

@pytest.fixture
def throttled_app(app):
    """A second app on the same database with the login throttle on (3 per minute).

    TEST_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 runs it against Redis.
    """
    throttled = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        AUDIT_ANCHOR_FILE=app.config["AUDIT_ANCHOR_FILE"], RATELIMIT_ENABLED=True, AUTH_RATE_LIMITED=True,
        AUTH_RATE_LIMIT="3 per minute",
        RATELIMIT_STORAGE_URI=os.environ.get("TEST_RATELIMIT_STORAGE_URI", "memory://"),
    )
    throttled.appbuilder.sm.limiter.reset()
    yield throttled
    throttled.appbuilder.sm.limiter.reset()
    with throttled.app_context():
        db.engine.dispose()


def api_login(client, username, password=PASSWORD, **extra):
    return client.post("/api/v1/security/login",
                       json=dict(username=username, password=password, provider="db", **extra))


def test_login_form_answers_429_after_the_limit_of_failed_attempts(throttled_app):
    user = make_user("FrontDesk")
    client = throttled_app.test_client()
    form = Auth(client)
    for _ in range(4):  # successful sign-ins are not counted (a clinic may share one address)
        assert form.login(user.username).status_code == 302
        form.logout()
    for _ in range(3):
        assert form.login(user.username, "not the password at all").status_code == 302
    resp = form.login(user.username)
    assert resp.status_code == 429
    assert "Too many sign-in attempts" in resp.get_data(as_text=True)
    assert client.get("/login/").status_code == 200  # showing the form is not limited


def test_api_login_answers_429_and_shares_the_budget_with_the_form(throttled_app):
    user = make_user("FrontDesk")
    client = throttled_app.test_client()
    assert Auth(client).login(user.username, "not the password at all").status_code == 302
    assert api_login(client, user.username, "wrong again, still").status_code == 401
    assert api_login(client, user.username).status_code == 200
    assert api_login(client, "nobody-here", "a third wrong one").status_code == 401
    resp = api_login(client, user.username)
    assert resp.status_code == 429
    assert "Too many sign-in attempts" in resp.get_json()["message"]


# --------------------------------------------------------------------------- lockout

def test_five_failures_lock_the_account_and_then_even_the_right_password_fails(client, auth):
    user = make_user("FrontDesk")
    for _ in range(5):
        resp = auth.login(user.username, "guessing wrongly again")
    wrong_password_page = flashes_after(resp, client)
    assert "After 5 failed attempts in a row an account is locked" in wrong_password_page
    assert reload(user).is_locked

    resp = auth.login(user.username)  # the right password
    assert not signed_in(client)
    assert "After 5 failed attempts" in flashes_after(resp, client)
    assert api_login(client, user.username).status_code == 401
    # An unknown account gets the very same answer: the message reveals nothing.
    assert "After 5 failed attempts" in flashes_after(auth.login("nobody-at-all", "whatever it is"), client)

    (lockout,) = events("lockout")
    assert lockout.object_id == str(user.id) and json.loads(lockout.details)["failures"] == 5
    assert len(events("login_failed")) >= 7


def test_admin_unlocks_from_the_user_list_and_it_is_audited(client, auth, login_as):
    user = make_user("Billing")
    for _ in range(5):
        current_app.appbuilder.sm.register_failure(user)
    assert reload(user).is_locked
    admin = login_as("Admin")
    resp = client.post("/users/action_post", data={"action": "unlock", "rowid": str(user.id),
                                                   "csrf_token": client.csrf_token})
    assert resp.status_code == 302
    assert not reload(user).is_locked and reload(user).fail_login_count == 0
    (unlock,) = events("unlock")
    assert unlock.user_id == admin.id and json.loads(unlock.details) == {"by": "admin", "user": user.username}
    auth.logout()
    assert auth.login(user.username).status_code == 302 and signed_in(client)


def test_unlock_user_command(runner):
    user = make_user("Clinician")
    for _ in range(5):
        current_app.appbuilder.sm.register_failure(user)
    result = runner.invoke(args=["clinic", "unlock-user", user.username])
    assert result.exit_code == 0 and "unlocked" in result.output
    assert not reload(user).is_locked
    assert json.loads(events("unlock")[0].details)["by"] == "cli"
    assert runner.invoke(args=["clinic", "unlock-user", "no-such-user"]).exit_code == 1


def test_lock_lifts_itself_after_the_configured_minutes(client, auth, clock, config):
    config(AUTH_LOCKOUT_MINUTES=10)
    user = make_user("FrontDesk")
    for _ in range(5):
        auth.login(user.username, "wrong password here")
    clock.advance(minutes=9)
    auth.login(user.username)
    assert not signed_in(client)
    clock.advance(minutes=2)
    assert auth.login(user.username).status_code == 302 and signed_in(client)
    assert json.loads(events("unlock")[0].details)["by"] == "auto"


# --------------------------------------------------------------------------- TOTP

def enroll(client, clock):
    """Enroll the signed-in (or half-signed-in) client; return (secret, response)."""
    page = client.get("/auth/2fa/enroll").get_data(as_text=True)
    assert "<svg" in page  # the QR code is drawn in the page, nothing is fetched
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    token = csrf_token_from(page)
    resp = client.post("/auth/2fa/enroll", data={"code": pyotp.TOTP(secret).at(clock.now), "csrf_token": token})
    return secret, resp


def send_code(client, code):
    token = csrf_token_from(client.get("/auth/2fa/verify").get_data(as_text=True))
    return client.post("/auth/2fa/verify", data={"code": code, "csrf_token": token})


def test_enroll_then_sign_in_needs_the_right_code(client, auth, login_as, clock):
    user = login_as("FrontDesk")
    secret, resp = enroll(client, clock)
    assert resp.status_code == 302
    stored = reload(user).totp_secret
    assert stored and secret not in stored and crypto.decrypt(stored) == secret  # encrypted at rest
    assert events("mfa_enroll")[0].object_id == str(user.id)
    auth.logout()

    clock.advance(seconds=60)  # the enrollment code may not be used again: a later one
    resp = auth.login(user.username)
    assert resp.headers["Location"].endswith("/auth/2fa/verify")
    assert not signed_in(client)  # the password alone does not sign in
    wrong = send_code(client, "000000" if pyotp.TOTP(secret).at(clock.now) != "000000" else "111111")
    assert "That code is not valid" in flashes_after(wrong, client)
    assert not signed_in(client)

    assert send_code(client, pyotp.TOTP(secret).at(clock.now)).status_code == 302
    assert signed_in(client)
    assert reload(user).fail_login_count == 0
    assert [e.username for e in events("login")][-1] == user.username


def test_a_code_works_once(client, auth, login_as, clock):
    user = login_as("Billing")
    secret, _ = enroll(client, clock)
    auth.logout()
    clock.advance(seconds=60)
    code = pyotp.TOTP(secret).at(clock.now)
    auth.login(user.username)
    assert send_code(client, code).status_code == 302 and signed_in(client)
    auth.logout()
    auth.login(user.username)
    send_code(client, code)
    assert not signed_in(client)


def test_wrong_codes_count_towards_the_lockout(client, auth, login_as, clock):
    user = login_as("Clinician")
    enroll(client, clock)
    auth.logout()
    auth.login(user.username)
    for _ in range(5):
        resp = send_code(client, "12345")
    assert reload(user).is_locked
    assert "After 5 failed attempts" in flashes_after(resp, client)
    resp = auth.login(user.username)
    assert "/auth/2fa/" not in resp.headers["Location"] and not signed_in(client)


def test_api_login_asks_for_the_code_of_users_with_two_step_sign_in(client, login_as, auth, clock):
    user = login_as("Billing")
    secret, _ = enroll(client, clock)
    auth.logout()
    clock.advance(seconds=60)
    resp = api_login(client, user.username)
    assert resp.status_code == 401 and "totp" in resp.get_json()["message"]
    resp = api_login(client, user.username, totp=pyotp.TOTP(secret).at(clock.now), refresh=True)
    assert resp.status_code == 200 and resp.get_json()["access_token"]


def test_roles_that_require_it_are_sent_to_enrollment_after_the_password(client, auth, clock, config):
    config(MFA_REQUIRED_ROLES=["Billing", "Admin"])
    user = make_user("Billing")
    resp = auth.login(user.username)
    assert resp.headers["Location"].endswith("/auth/2fa/enroll")
    assert not signed_in(client)  # nothing else until enrolled
    assert api_login(client, user.username).status_code == 401
    page = client.get("/auth/2fa/enroll").get_data(as_text=True)
    assert "Your role requires two-step sign-in" in page
    _, resp = enroll(client, clock)
    assert resp.status_code == 302 and signed_in(client)


def test_a_signed_in_user_whose_role_now_requires_it_can_only_enroll(client, login_as, config):
    login_as("Billing")
    config(MFA_REQUIRED_ROLES=["Billing"])
    resp = client.get("/patients/find")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/auth/2fa/enroll")
    assert client.get("/auth/2fa/enroll").status_code == 200


def test_admin_resets_a_lost_authenticator(client, login_as, clock):
    user = make_user("FrontDesk")
    secret = auth_service.new_totp_secret()
    assert current_app.appbuilder.sm.enroll_totp(user, secret, pyotp.TOTP(secret).at(clock.now))
    login_as("Admin")
    client.post("/users/action_post", data={"action": "reset_2fa", "rowid": str(user.id),
                                            "csrf_token": client.csrf_token})
    assert not reload(user).has_totp
    assert json.loads(events("mfa_reset")[0].details)["by"] == "admin"


# --------------------------------------------------------------------------- sessions

def test_idle_timeout_signs_out_and_background_refreshes_do_not_count(client, login_as, clock):
    user = login_as("FrontDesk")
    clock.advance(minutes=10)
    assert signed_in(client)  # activity at minute 10
    clock.advance(minutes=10)
    assert client.get("/patients/find", headers={"X-Background-Refresh": "1"}).status_code == 200
    clock.advance(minutes=4)  # 14 minutes after the last real activity
    assert client.get("/patients/find", headers={"X-Background-Refresh": "1"}).status_code == 200
    clock.advance(minutes=2)  # 16 minutes: the background requests did not keep it alive
    resp = client.get("/patients/find", headers={"X-Background-Refresh": "1"})
    assert resp.status_code == 401 and "without activity" in resp.get_json()["message"]
    assert not signed_in(client)
    (end,) = events("session_end")
    assert end.user_id == user.id and json.loads(end.details)["reason"] == "idle"


def test_idle_page_request_goes_to_login_with_the_reason(client, login_as, clock):
    login_as("Clinician")
    clock.advance(minutes=15)
    resp = client.get("/patients/find")
    assert "/login/" in resp.headers["Location"]
    assert "signed out after 15 minutes without activity" in flashes_after(resp, client)


def test_a_session_ends_after_its_absolute_lifetime_even_when_active(client, login_as, clock):
    login_as("FrontDesk")
    for _ in range(71):  # active every 10 minutes for 11 h 50 min
        clock.advance(minutes=10)
        assert client.get("/patients/find").status_code == 200
    clock.advance(minutes=10)
    assert not signed_in(client)
    assert json.loads(events("session_end")[0].details)["reason"] == "expired"


def test_a_cookie_replayed_after_logout_is_refused(client, login_as, auth):
    user = login_as("Billing")
    stolen = client.get_cookie("session").value
    auth.logout()
    client.set_cookie("session", stolen, domain="localhost")
    assert not signed_in(client)
    assert json.loads(events("session_end")[0].details)["reason"] == "revoked"
    assert reload(user).session_generation == 1


def test_logout_also_revokes_api_tokens(client, auth):
    user = make_user("FrontDesk")
    tokens = api_login(client, user.username, refresh=True).get_json()
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert client.post("/api/v1/security/refresh", headers=refresh).status_code == 200
    auth.login(user.username)
    auth.logout()
    assert client.post("/api/v1/security/refresh", headers=refresh).status_code == 401


def test_disabling_a_user_ends_their_session(app, client, login_as):
    user = login_as("FrontDesk")
    db_user = reload(user)
    db_user.active = False
    db.session.commit()
    assert not signed_in(client)
    assert json.loads(events("session_end")[0].details)["reason"] == "disabled"
    # Enabling the account again does not bring the old session back.
    db_user = reload(user)
    db_user.active = True
    db.session.commit()
    assert not signed_in(client)


def test_a_password_reset_by_an_admin_ends_the_users_sessions(app, client, login_as):
    user = make_user("Clinician")
    theirs = app.test_client()
    with app.app_context():  # a request context of its own (the CSRF token is cached in g)
        assert Auth(theirs).login(user.username).status_code == 302 and signed_in(theirs)
    login_as("Admin")
    resp = post_form(client, f"/resetpassword/form?pk={user.id}",
                     {"password": PASSPHRASE_70, "conf_password": PASSPHRASE_70})
    assert resp.status_code == 302
    with app.app_context():
        assert not signed_in(theirs)
    assert signed_in(client)


def test_pages_of_a_signed_in_user_carry_the_idle_warning_script(client, login_as):
    assert "idle_logout.js" not in client.get("/login/").get_data(as_text=True)
    login_as("FrontDesk")
    page = client.get("/patients/find").get_data(as_text=True)
    assert re.search(r'src="/static/js/idle_logout.js"[^>]*data-idle-minutes="15"', page)


def test_set_password_command_applies_the_policy(app, runner):
    from tests.conftest import make_user

    make_user("FrontDesk", username="desk9")
    weak = runner.invoke(args=["clinic", "set-password", "desk9"], input="password123\npassword123\n")
    assert weak.exit_code != 0 and "password refused" in weak.output
    good = runner.invoke(args=["clinic", "set-password", "desk9", "--generate"])
    assert good.exit_code == 0 and "New password:" in good.output
    new = good.output.rsplit("New password: ", 1)[1].strip()
    assert app.appbuilder.sm.auth_user_db("desk9", new) is not None


def test_password_forms_describe_the_real_policy(client, login_as):
    login_as("FrontDesk")
    page = client.get("/resetmypassword/form").get_data(as_text=True)
    assert "At least 12 characters" in page
    assert "does not check this for you" not in page

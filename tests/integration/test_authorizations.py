"""Prior authorizations: recording them (bad input refused with a clear message, nothing changed), which
one is valid, units used (claim lines of the claims carrying the number, else the visits' charge lines),
the claim scrubber and build_claim, the booking warning at every door, the alerts (list, home card,
report), the chart panel, permissions and the audit trail."""
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.authorizations import PriorAuthorization
from app.services import authorizations, claims, scheduling
from app.services import coverage as coverage_service
from app.services.errors import StaleRecordError, ValidationFailed
from tests import billing_setup
from tests.billing_setup import DAY, LONG_AGO, TODAY, VISIT, billing_clinic
from tests.factories import PatientFactory
from tests.integration.test_reports import _cards, post_report
from tests.integration.test_schedule_reports import csv_rows
from tests.scheduling_setup import book

THERAPY = {"code": "97110", "fee": "50.00", "units": "4", "pointers": "A"}


@pytest.fixture
def c(icd10_sets):
    return billing_clinic()


def authorize(c, number="PA-100", **values):
    args = dict(payer=c.payer, number=number, codes="97110", units_authorized="10", valid_from=date(2026, 1, 1),
                valid_to=date(2026, 3, 31))
    args.update(values)
    return authorizations.add_authorization(db.session, c.patient, **args)


def ready_encounter(c, when=VISIT, lines=(THERAPY,)):
    return billing_setup.ready_encounter(c, when, codes=("E11.9",), lines=lines)


def needs_auth(c):
    c.payer.auth_types.append(c.type)
    db.session.commit()


def count():
    return db.session.scalar(select(func.count()).select_from(PriorAuthorization))


def problem_texts(exc):
    return {field: str(message) for field, message in exc.value.problems}


# --------------------------------------------------------------------------- recording, bad input

def test_an_authorization_is_recorded_with_its_coverage_found_by_the_dates(c):
    auth = authorize(c, codes="97110, g0283 97110")
    assert (auth.status, auth.code_list, auth.units_authorized, auth.coverage_id) == (
        "active", ["97110", "G0283"], Decimal("10"), c.coverage.id)
    assert auth.version == 1


@pytest.mark.parametrize("values, field, message", [
    (dict(valid_from=date(2026, 3, 1), valid_to=date(2026, 2, 1)), "valid_to",
     "The authorization cannot end (Feb 1, 2026) before it starts (Mar 1, 2026)."),
    (dict(units_authorized="-3"), "units_authorized",
     "The units authorized must be more than zero (leave the field empty for no limit)."),
    (dict(units_authorized="0"), "units_authorized",
     "The units authorized must be more than zero (leave the field empty for no limit)."),
    (dict(units_authorized="twelve"), "units_authorized", "Enter the units as a number, e.g. 12."),
    (dict(payer=987654), "payer", "Unknown payer: choose one from the list."),
    (dict(payer=None), "payer", "Choose the payer that gave the authorization."),
    (dict(codes="97110, 9711, Z1234, ABCDE"), "codes",
     "Not a CPT or HCPCS code: 9711, Z1234, ABCDE. A CPT code is five digits (or four digits and F, M, T or U), "
     "a HCPCS code a letter A to V and four digits."),
    (dict(number="  "), "number", "Enter the authorization number the payer gave."),
    (dict(valid_to=None), "valid_to", "This field is required."),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(c, values, field, message):
    with pytest.raises(ValidationFailed) as exc:
        authorize(c, **values)
    assert problem_texts(exc)[field] == message
    assert count() == 0


def test_the_same_number_twice_and_another_patients_coverage_are_refused(c):
    authorize(c)
    other = coverage_service.add_coverage(db.session, PatientFactory(), payer=c.payer, priority=1,
                                          member_id="OTHER1", effective_date=date(2025, 1, 1))
    with pytest.raises(ValidationFailed) as exc:
        authorize(c, coverage=other.id)
    texts = problem_texts(exc)
    assert texts["number"] == "Acme Health's authorization PA-100 is already recorded."
    assert texts["coverage"] == "This coverage is not one of the patient's."
    assert count() == 1


def test_edit_is_optimistically_locked_and_void_needs_a_reason(c):
    auth = authorize(c)
    version = auth.version
    authorizations.update_authorization(db.session, auth, expected_version=version, payer=c.payer.id,
                                        number="PA-100", codes="97110", units_authorized="12",
                                        valid_from=date(2026, 1, 1), valid_to=date(2026, 4, 30))
    assert (auth.units_authorized, auth.valid_to, auth.version) == (Decimal("12"), date(2026, 4, 30), version + 1)
    with pytest.raises(StaleRecordError):
        authorizations.update_authorization(db.session, auth, expected_version=version, payer=c.payer.id,
                                            number="PA-100", valid_from=date(2026, 1, 1), valid_to=date(2026, 5, 1))
    with pytest.raises(ValidationFailed) as exc:
        authorizations.update_authorization(db.session, auth, expected_version=auth.version, payer=c.payer.id,
                                            number="PA-100", units_authorized="-1", valid_from=date(2026, 1, 1),
                                            valid_to=date(2026, 5, 1))
    db.session.expire_all()
    assert (auth.units_authorized, auth.valid_to) == (Decimal("12"), date(2026, 4, 30))
    with pytest.raises(ValidationFailed) as exc:
        authorizations.void_authorization(db.session, auth, reason=" ", expected_version=auth.version)
    assert problem_texts(exc)["reason"] == "Say why the authorization is voided."
    authorizations.void_authorization(db.session, auth, reason="Entered twice", expected_version=auth.version)
    assert (auth.status, auth.void_reason) == ("void", "Entered twice")
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.patient_id).where(
        AuditEvent.object_type == "PriorAuthorization", AuditEvent.object_id == str(auth.id))
        .order_by(AuditEvent.id)).all()
    assert actions == [("create", c.patient.id), ("update", c.patient.id), ("update", c.patient.id)]
    with pytest.raises(ValidationFailed):
        authorizations.void_authorization(db.session, auth, reason="again", expected_version=auth.version)


# --------------------------------------------------------------------------- valid authorization, units

def test_valid_authorization_matches_payer_dates_codes_and_type_and_never_a_voided_one(c):
    auth = authorize(c, appointment_type=c.type.id)
    find = authorizations.valid_authorization
    assert find(db.session, c.patient.id, c.payer.id, DAY, codes=["97110"], appointment_type=c.type) == auth
    assert find(db.session, c.patient.id, c.payer.id, DAY) == auth  # nothing said about the service
    assert find(db.session, c.patient.id, c.payer.id, DAY, codes=["99213"]) is None
    assert find(db.session, c.patient.id, c.payer.id, date(2026, 4, 1)) is None
    assert find(db.session, c.patient.id, c.payer.id, date(2025, 12, 31)) is None
    other_type = scheduling.add_type(db.session, name="Physio", default_duration=45)
    assert find(db.session, c.patient.id, c.payer.id, DAY, appointment_type=other_type) is None
    authorizations.void_authorization(db.session, auth, reason="Payer withdrew it", expected_version=auth.version)
    assert find(db.session, c.patient.id, c.payer.id, DAY) is None


def test_units_used_come_from_claims_carrying_the_number_else_from_unbilled_charge_lines(c):
    auth = authorize(c)
    assert authorizations.units_used(db.session, auth) == 0
    enc = ready_encounter(c, lines=({"code": "97110", "fee": "50.00", "units": "4", "pointers": "A"},
                                    {"code": "99213", "fee": "90.00", "units": "1", "pointers": "A"}))
    assert authorizations.units_used(db.session, auth) == Decimal("4")  # not billed yet: the charge lines
    claim = claims.build_claim(db.session, enc, actor=c.user)
    assert claim.prior_authorization == "PA-100"  # filled from the valid authorization
    assert authorizations.units_used(db.session, auth) == Decimal("4")  # now from the claim, not twice
    claims.transition(db.session, claim, "void", actor=c.user, expected_version=claim.version)
    # A void claim does not count: the encounter's charge lines count again (it is still to be billed).
    assert authorizations.units_used(db.session, auth) == Decimal("4")
    ready_encounter(c, when=VISIT + timedelta(days=7),
                    lines=({"code": "97110", "fee": "50.00", "units": "3", "pointers": "A"},))
    assert authorizations.units_used(db.session, auth) == Decimal("7")
    ready_encounter(c, when=datetime(2026, 4, 6, 9), lines=({"code": "97110", "fee": "50.00", "units": "2",
                                                             "pointers": "A"},))
    assert authorizations.units_used(db.session, auth) == Decimal("7")  # after the valid period


# --------------------------------------------------------------------------- claims

def test_the_scrubber_refuses_a_number_matching_no_valid_authorization(c):
    claim = claims.build_claim(db.session, ready_encounter(c), actor=c.user)
    assert claim.prior_authorization is None  # nothing on file: nothing filled
    claims.set_prior_authorization(db.session, claim, "AUTH-991", expected_version=claim.version)
    problem = claims.prior_authorization_problem(db.session, claim)
    assert problem == ("prior_authorization",
                       "The prior authorization number AUTH-991 on the claim matches no authorization from Acme "
                       "Health for this patient: record the authorization first or correct the number.")
    auth = authorize(c, number="AUTH-991", valid_from=date(2026, 2, 1), valid_to=date(2026, 2, 28))
    field, message = claims.prior_authorization_problem(db.session, claim)
    assert str(message) == ("The prior authorization AUTH-991 is valid from Feb 1, 2026 to Feb 28, 2026: the date "
                            "of service Jan 12, 2026 is outside it.")
    authorizations.update_authorization(db.session, auth, expected_version=auth.version, payer=c.payer,
                                        number="AUTH-991", codes="97110", units_authorized="10",
                                        valid_from=date(2026, 1, 1), valid_to=date(2026, 2, 28))
    assert claims.prior_authorization_problem(db.session, claim) is None
    authorizations.void_authorization(db.session, auth, reason="Wrong patient", expected_version=auth.version)
    field, message = claims.prior_authorization_problem(db.session, claim)
    assert "was voided" in str(message)


def test_units_exhausted_is_a_problem(c):
    needs_auth(c)
    authorize(c, units_authorized="5")
    first = claims.build_claim(db.session, ready_encounter(c), actor=c.user)  # 4 of 5 units
    assert first.prior_authorization == "PA-100"
    assert claims.prior_authorization_problem(db.session, first) is None
    second = claims.build_claim(db.session, ready_encounter(c, when=VISIT + timedelta(days=2)), actor=c.user)
    assert second.prior_authorization == "PA-100"  # 1 unit was left when it was built
    field, message = claims.prior_authorization_problem(db.session, second)
    assert str(message) == ("The prior authorization PA-100 is used up: 5 units authorized, 4 used before this "
                            "claim, and this claim bills 4.")
    assert str(message) in [str(m) for _, m in claims.scrub(db.session, second, today=TODAY)]


def test_a_visit_that_needs_an_authorization_without_one_on_file(c):
    needs_auth(c)
    claim = claims.build_claim(db.session, ready_encounter(c), actor=c.user)
    field, message = claims.prior_authorization_problem(db.session, claim)
    assert str(message) == "A Follow-up visit needs a prior authorization from Acme Health; none is on file."


# --------------------------------------------------------------------------- booking warnings

def test_booking_warns_when_no_authorization_is_valid_and_goes_through(c):
    needs_auth(c)
    appointment = book(c, VISIT, now=LONG_AGO)
    assert appointment.id is not None and appointment.status == "booked"
    assert [str(w) for w in appointment.authorization_warnings] == [
        "A “Follow-up” visit needs a prior authorization from Acme Health; none is valid on Jan 12, 2026."]
    authorize(c, codes="", appointment_type=c.type.id)
    other = book(c, VISIT + timedelta(days=1), now=LONG_AGO)
    assert other.authorization_warnings == []
    # a type that needs no authorization, or a payer that asks none: no warning
    c.payer.auth_types.remove(c.type)
    db.session.commit()
    assert book(c, VISIT + timedelta(days=2), now=LONG_AGO).authorization_warnings == []


def test_the_booking_form_the_appointment_page_the_calendar_and_the_cli_show_the_warning(c, client, login_as, app,
                                                                                       runner):
    needs_auth(c)
    app.config["SCHEDULING_ALLOW_PAST"] = True
    try:
        login_as("FrontDesk")
        resp = client.post("/appointments/book", data={
            "csrf_token": client.csrf_token, "patient_id": str(c.patient.id), "provider": str(c.provider.id),
            "location": str(c.location.id), "type": str(c.type.id), "date": "1/12/2026", "time": "10:00"},
            follow_redirects=True)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "Appointment booked" in page
        assert "none is valid on Jan 12, 2026" in page and 'id="appointment-auth-notice"' in page
        appointment = db.session.scalars(select(scheduling.Appointment)).one()
        resp = client.post("/schedule/move", json={"id": appointment.id, "version": appointment.version,
                                                   "start": "2026-01-13T10:00"},
                           headers={"X-CSRFToken": client.csrf_token})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.get_json()["warnings"] == [
            "A “Follow-up” visit needs a prior authorization from Acme Health; none is valid on Jan 13, 2026."]
        authorize(c, codes="", valid_from=date(2026, 1, 13), valid_to=date(2026, 1, 31))
        page = client.get(f"/appointments/{appointment.id}").get_data(as_text=True)
        assert 'id="appointment-auth-notice"' not in page
    finally:
        app.config["SCHEDULING_ALLOW_PAST"] = False
    result = runner.invoke(args=["clinic", "book", "--patient", c.patient.mrn, "--provider", str(c.provider.id),
                                 "--location", str(c.location.id), "--type", str(c.type.id),
                                 "--start", "2030-02-04 11:00"])
    assert result.exit_code == 0, result.output
    assert "warning: A “Follow-up” visit needs a prior authorization from Acme Health; none is valid" in result.output


# --------------------------------------------------------------------------- alerts, card, report

def test_alerts_name_the_ones_ending_soon_or_running_out(c):
    today = date(2026, 3, 20)
    ending = authorize(c, number="END", valid_to=date(2026, 3, 31))  # 11 days left
    later = authorize(c, number="LATER", valid_to=date(2026, 6, 30))
    low = authorize(c, number="LOW", codes="97110", units_authorized="5", valid_to=date(2026, 6, 30))
    authorize(c, number="GONE", valid_to=date(2026, 3, 19))  # ended: no alert
    voided = authorize(c, number="VOID", valid_to=date(2026, 3, 25))
    authorizations.void_authorization(db.session, voided, reason="Duplicate", expected_version=voided.version)
    ready_encounter(c, when=datetime(2026, 3, 2, 9))  # 4 units of 97110: LOW has 1 left, END/LATER 6 of 10
    found = {a.number: reasons for a, reasons, _used, _left in authorizations.alerts(db.session, today=today)}
    assert found == {"END": ["expiring"], "LOW": ["low"]}
    assert later.number not in found and low.number in found and ending.number in found


def test_the_list_screen_home_card_report_and_chart_panel(c, client, login_as):
    today = date.today()
    auth = authorize(c, valid_from=today - timedelta(days=10), valid_to=today + timedelta(days=5))
    login_as("FrontDesk")
    body, cards = _cards(client)
    assert "authorization_alerts" in cards
    page = client.get("/authorizations/").get_data(as_text=True)
    assert "PA-100" in page and c.patient.display_name in page and "ends soon" in page
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "PriorAuthorizationList")).one()
    assert json.loads(event.details)["patients"] == [c.patient.id]
    rows = csv_rows(post_report(client, "authorizations_expiring", "csv", days="14"))
    assert rows[0][:4] == ["Patient", "MRN", "Payer", "Authorization"]
    assert rows[1][2:4] == ["Acme Health", "PA-100"]
    chart = client.get(f"/patients/{c.patient.id}/chart").get_data(as_text=True)
    assert 'id="chart-authorizations-table"' in chart and "PA-100" in chart
    show = client.get(f"/authorizations/{auth.id}")
    assert show.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "PriorAuthorization", AuditEvent.action == "view",
        AuditEvent.patient_id == c.patient.id)) == 1


def test_the_form_records_refuses_bad_input_and_clinicians_only_read(c, client, login_as):
    login_as("Billing")
    url = f"/authorizations/add/{c.patient.id}"
    assert client.get(url).status_code == 200
    data = {"csrf_token": client.csrf_token, "payer": str(c.payer.id), "number": "PA-7", "codes": "97110, 9711X",
            "units_authorized": "0", "valid_from": "3/1/2026", "valid_to": "2/1/2026"}
    page = client.post(url, data=data).get_data(as_text=True)
    assert "Not a CPT or HCPCS code: 9711X." in page
    assert "The units authorized must be more than zero" in page
    assert "The authorization cannot end (Feb 1, 2026) before it starts (Mar 1, 2026)." in page
    assert count() == 0
    data.update(codes="97110", units_authorized="12", valid_to="4/30/2026")
    resp = client.post(url, data=data)
    assert resp.status_code == 302
    auth = db.session.scalars(select(PriorAuthorization)).one()
    assert (auth.number, auth.units_authorized, auth.valid_to, auth.coverage_id) == (
        "PA-7", Decimal("12"), date(2026, 4, 30), c.coverage.id)
    # a stale edit changes nothing
    resp = client.post(f"/authorizations/{auth.id}/edit", data=dict(data, version="0", units_authorized="20"))
    assert "Someone else changed this record" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert auth.units_authorized == Decimal("12")
    edit = client.get(f"/authorizations/{auth.id}/edit").get_data(as_text=True)
    assert 'value="12"' in edit and 'value="PA-7"' in edit
    resp = client.post(f"/authorizations/{auth.id}/edit", data=dict(data, version=str(auth.version),
                                                                     units_authorized="1,500"))
    assert resp.status_code == 302
    db.session.expire_all()
    assert (auth.units_authorized, auth.version) == (Decimal("1500"), 2)
    client.get("/logout/")
    login_as("Clinician")
    assert client.get(f"/authorizations/{auth.id}").status_code == 200
    assert client.get(url).status_code == 403
    assert client.post(f"/authorizations/{auth.id}/void", data={"csrf_token": client.csrf_token, "reason": "x",
                                                               "version": str(auth.version)}).status_code == 403
    db.session.expire_all()
    assert auth.status == "active"

"""Eligibility checks recorded by hand, the worklist, the 270/271 doors, and the schedule badges."""
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.billing import BillingSettings, EligibilityCheck, Payer
from app.services import coverage as coverage_service
from app.services import eligibility
from app.services.errors import ValidationFailed
from tests.factories import PatientFactory
from tests.scheduling_setup import book, make_clinic, utc

NOW = utc(2026, 11, 27, 17, 0)  # Friday 27 November 2026, noon in New York
DAY = datetime(2026, 11, 27)


def insure(patient, payer, member_id, **values):
    return coverage_service.add_coverage(db.session, patient, payer=payer, member_id=member_id,
                                         effective_date=date(2026, 1, 1), **values)


def clinic_with_insurance():
    """Three patients on 27 November: an insured adult, an insured child (mother subscribes), a self-pay."""
    c = make_clinic()
    db.session.add(BillingSettings(id=1, billing_name="Sunrise Clinic", group_npi="1234567893", tax_id="123456789",
                                   isa_sender_qualifier="ZZ", isa_sender_id="SUNRISE", isa_receiver_qualifier="ZZ",
                                   isa_receiver_id="ACMEPAYER", usage_indicator="T"))
    c.payer = Payer(name="Acme Health", payer_code="ACME01")
    db.session.add(c.payer)
    db.session.commit()
    c.adult = PatientFactory(family_name="Núñez", given_name="José", birth_date=date(1980, 3, 4), sex="male")
    c.mother = PatientFactory(family_name="Parent", given_name="Ana", birth_date=date(1985, 5, 6))
    c.child = PatientFactory(family_name="Parent", given_name="Lucía", birth_date=date(2018, 7, 8))
    c.cash = PatientFactory(family_name="Cash", given_name="Carl")
    c.adult_cov = insure(c.adult, c.payer, "MEM-0001")
    c.child_cov = insure(c.child, c.payer, "MEM-0002", subscriber_relationship="child",
                         subscriber_mrn=c.mother.mrn)
    coverage_service.add_coverage(db.session, c.cash, self_pay=True, effective_date=date(2026, 1, 1))
    c.appointments = [book(c, DAY.replace(hour=9), patient=c.adult), book(c, DAY.replace(hour=10), patient=c.child)]
    c.self_pay_appointment = book(c, DAY.replace(hour=11), patient=c.cash)
    return c


@pytest.fixture
def c(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULING_ALLOW_PAST", True)
    return clinic_with_insurance()


def count_checks():
    return db.session.scalar(select(func.count()).select_from(EligibilityCheck))


def record(c, **overrides):
    values = dict(coverage=c.adult_cov, service_date=DAY.date(), method="phone", result="active", copay="25.00",
                  deductible_remaining="500", out_of_pocket_remaining=None, notes="Spoke to Kim", reference="REF123")
    values.update(overrides)
    return eligibility.record_check(db.session, **values)


def test_record_check_stores_the_verification(c):
    check = record(c)
    assert (check.result, check.copay, check.deductible_remaining, check.patient_id) == (
        "active", Decimal("25.00"), Decimal("500.00"), c.adult.id)
    assert eligibility.latest_for(db.session, c.adult_cov, DAY.date()).id == check.id


@pytest.mark.parametrize("overrides, field", [
    ({"copay": "-5"}, "copay"),
    ({"deductible_remaining": "1.234"}, "deductible_remaining"),
    ({"out_of_pocket_remaining": "abc"}, "out_of_pocket_remaining"),
    ({"result": "maybe"}, "result"),
    ({"method": "x12"}, "method"),
    ({"service_date": None}, "service_date"),
    ({"service_date": date(2025, 6, 1)}, "service_date"),
    ({"notes": "x" * 1001}, "notes"),
])
def test_record_check_refuses_bad_input_and_writes_nothing(c, overrides, field):
    with pytest.raises(ValidationFailed) as err:
        record(c, **overrides)
    assert err.value.for_field(field)
    db.session.rollback()
    assert count_checks() == 0


def test_a_voided_coverage_cannot_be_checked(c):
    coverage_service.void_coverage(db.session, c.adult_cov, reason="entered in error")
    with pytest.raises(ValidationFailed) as err:
        record(c)
    assert err.value.for_field("coverage")
    assert count_checks() == 0


def test_status_for_appointments_is_one_query(c):
    record(c)
    appointments = c.appointments + [c.self_pay_appointment]
    assert all(a.start_local for a in appointments)  # loaded before counting (the page has them)
    statements = []
    from sqlalchemy import event

    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        status = eligibility.status_for_appointments(db.session, appointments)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == 1
    assert status[c.appointments[0].id].result == "active"
    assert status[c.appointments[1].id] is None and status[c.self_pay_appointment.id] is None


# --------------------------------------------------------------------------- screens

import re  # noqa: E402

from app.models import AuditEvent  # noqa: E402
from app.views import flow  # noqa: E402


def worklist_url(c):
    return f"/eligibility/?location={c.location.id}&date=2026-11-27"


def fragment(page, attr, value):
    """The HTML of the element that carries attr="value" up to the next one of its kind."""
    start = page.index(f'{attr}="{value}"')
    nxt = page.find(f'{attr}="', start + 10)
    return page[start:nxt if nxt != -1 else len(page)]


def post_record(client, c, **overrides):
    data = {"csrf_token": client.csrf_token, "coverage": c.adult_cov.id, "appointment": c.appointments[0].id,
            "service_date": "2026-11-27", "method": "phone", "result": "active", "copay": "25.00",
            "deductible_remaining": "500.00", "out_of_pocket_remaining": "", "reference": "R1", "notes": "",
            "location": c.location.id, "date": "2026-11-27"}
    data.update(overrides)
    return client.post("/eligibility/record", data=data, follow_redirects=True)


def test_front_desk_sees_the_worklist_and_records_a_check(client, login_as, c):
    login_as("FrontDesk")
    page = client.get(worklist_url(c)).get_data(as_text=True)
    assert "Acme Health" in page and "••••0001" in page and "MEM-0001" not in page
    assert "Self-pay" in page and "Download 270 for the unchecked (2)" in page
    assert "No insurance to check." in fragment(page, "data-appointment", c.self_pay_appointment.id)
    assert "Eligibility not checked" in fragment(page, "data-appointment", c.appointments[0].id)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "Eligibility", AuditEvent.action == "view")) == 1

    resp = post_record(client, c)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "was recorded" in page
    row = fragment(page, "data-appointment", c.appointments[0].id)
    assert "Eligibility checked: active" in row and "$25.00" in row and "$500.00" in row
    assert "Download 270 for the unchecked (1)" in page


def test_a_negative_copay_is_refused_on_the_screen(client, login_as, c):
    login_as("FrontDesk")
    page = post_record(client, c, copay="-5").get_data(as_text=True)
    assert "The amount cannot be negative." in page
    assert count_checks() == 0


def test_clinician_may_not_open_eligibility(client, login_as, c):
    login_as("Clinician")
    assert client.get(worklist_url(c)).status_code == 403
    assert client.post("/eligibility/record", data={"csrf_token": client.csrf_token}).status_code == 403


def test_download_270_and_upload_271_through_the_screen(client, login_as, c):
    from tests.integration.test_x12_eligibility import ACTIVE, INACTIVE, _271

    login_as("Billing")
    resp = client.post("/eligibility/270", data={"csrf_token": client.csrf_token, "location": c.location.id,
                                                 "date": "2026-11-27"})
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    assert "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    assert text.startswith("ISA*") and "NM1*IL*1*NUNEZ*JOSE****MI*MEM-0001~" in text
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "Eligibility270", AuditEvent.action == "export")) == 1
    traces = list(db.session.scalars(select(EligibilityCheck.trace_number).order_by(EligibilityCheck.id)))
    assert len(traces) == 2

    from io import BytesIO

    def upload(body):
        return client.post("/eligibility/271", data={
            "csrf_token": client.csrf_token, "location": c.location.id, "date": "2026-11-27",
            "file": (BytesIO(body.encode()), "answer.271")}, content_type="multipart/form-data",
            follow_redirects=True).get_data(as_text=True)

    page = upload("ISA*garbage")
    assert "not an X12 271 eligibility response" in page or "not a valid X12 271" in page
    assert set(db.session.scalars(select(EligibilityCheck.result))) == {"pending"}
    page = upload(_271(traces + ["77-77"], [ACTIVE, INACTIVE, ACTIVE]))
    assert "The 271 answered 2 checks: 1 active, 1 inactive" in page and "77-77" in page
    assert "Eligibility checked: active" in fragment(page, "data-appointment", c.appointments[0].id)
    assert "Eligibility checked: inactive" in fragment(page, "data-appointment", c.appointments[1].id)


def test_badges_on_the_day_grid_and_the_flow_board(client, login_as, c, monkeypatch):
    monkeypatch.setattr(flow, "now", lambda: NOW)
    record(c)  # the adult is checked, the child is not
    login_as("FrontDesk")
    grid = client.get(f"/schedule/day?date=2026-11-27&location={c.location.id}").get_data(as_text=True)
    assert "Eligibility checked: active" in fragment(grid, "data-id", c.appointments[0].id)
    assert "Eligibility not checked" in fragment(grid, "data-id", c.appointments[1].id)
    board = client.get(f"/flow/?location={c.location.id}").get_data(as_text=True)
    assert "Eligibility checked: active" in fragment(board, "data-appointment", c.appointments[0].id)
    assert "Eligibility not checked" in fragment(board, "data-appointment", c.appointments[1].id)
    # self-pay: nothing to check, no badge
    assert "Eligibility" not in fragment(grid, "data-id", c.self_pay_appointment.id)
    assert "Eligibility" not in fragment(board, "data-appointment", c.self_pay_appointment.id)


def test_no_badges_for_who_may_not_see_checks(client, login_as, c, monkeypatch):
    monkeypatch.setattr(flow, "now", lambda: NOW)
    login_as("Clinician")
    board = client.get(f"/flow/?location={c.location.id}&all=1").get_data(as_text=True)
    assert c.adult.family_name in board and "Eligibility" not in board


def test_cli_writes_the_270_and_reads_the_271(runner, c, tmp_path):
    from tests.integration.test_x12_eligibility import ACTIVE, _271

    out = tmp_path / "out.270"
    result = runner.invoke(args=["clinic", "eligibility-270", "--date", "2026-11-27", "--location",
                                 str(c.location.id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "MEM-0002" in out.read_text()
    trace = db.session.scalars(select(EligibilityCheck.trace_number).order_by(EligibilityCheck.id)).first()
    answer = tmp_path / "in.271"
    answer.write_text(_271([trace], [ACTIVE]))
    result = runner.invoke(args=["clinic", "eligibility-271", str(answer)])
    assert result.exit_code == 0 and "Answered 1 check(s): 1 active" in result.output
    again = runner.invoke(args=["clinic", "eligibility-270", "--date", "2026-11-27", "--out", str(out)])
    assert again.exit_code != 0 and "nothing was changed" in again.output

"""Coverages: order, dates, subscriber and self-pay rules; no two of the same order overlap (service
and database); the chart lists them with masked member ids and the one in force on a date."""
import html
from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import AuditEvent
from app.models.billing import Coverage, Payer
from app.services import coverage as coverage_service
from app.services.errors import StaleRecordError, ValidationFailed
from tests.factories import PatientFactory
from tests.scheduling_setup import book, make_clinic

JAN_1 = date(2026, 1, 1)
NOON_UTC = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def text(resp):
    return html.unescape(resp.get_data(as_text=True))


def make_payer(name="Acme Health", code="ACME1", **kw):
    payer = Payer(name=name, payer_code=code, claim_filing_indicator=kw.pop("cfi", "CI"), timely_filing_days=90, **kw)
    db.session.add(payer)
    db.session.commit()
    return payer


def add(patient, payer, **kw):
    args = dict(payer=payer, priority=1, member_id="XJD123456789", group_number="GRP-77", plan_name="Gold PPO",
                effective_date=JAN_1, copay=Decimal("25.00"))
    args.update(kw)
    return coverage_service.add_coverage(db.session, patient, **args)


def count():
    return db.session.scalar(select(func.count()).select_from(Coverage))


def problems(exc):
    return {field: str(message) for field, message in exc.value.problems}


def test_mask_member_id_shows_only_the_last_four():
    assert coverage_service.mask_member_id("XJD123456789") == "••••6789"
    assert coverage_service.mask_member_id("AB1") == "••••"
    assert coverage_service.mask_member_id(None) == ""


def test_an_overlapping_coverage_of_the_same_order_is_refused_with_its_name_and_nothing_written():
    patient, payer = PatientFactory(), make_payer()
    add(patient, payer, end_date=date(2026, 12, 31))
    other = make_payer("Blue Shield", "BS001")
    with pytest.raises(ValidationFailed) as exc:
        add(patient, other, effective_date=date(2026, 6, 1), member_id="BS-1")
    message = problems(exc)["effective_date"]
    assert "Acme Health" in message and "2026-01-01" in message and "2026-12-31" in message
    assert count() == 1
    # the day after it ends is fine; a secondary may overlap the primary
    add(patient, other, effective_date=date(2027, 1, 1), member_id="BS-1")
    add(patient, other, priority=2, effective_date=date(2026, 3, 1), member_id="BS-2")
    assert count() == 3


def test_editing_into_an_overlap_is_refused_too():
    patient, payer = PatientFactory(), make_payer()
    add(patient, payer, end_date=date(2026, 6, 30))
    later = add(patient, payer, effective_date=date(2026, 7, 1), member_id="NEW1")
    values = dict(payer=payer, priority=1, member_id="NEW1", effective_date=date(2026, 6, 1))
    with pytest.raises(ValidationFailed) as exc:
        coverage_service.update_coverage(db.session, later, expected_version=later.version, **values)
    assert "Acme Health" in problems(exc)["effective_date"]
    db.session.rollback()
    assert db.session.get(Coverage, later.id).effective_date == date(2026, 7, 1)


def test_the_database_refuses_an_overlap_that_skips_the_service_and_the_service_reports_it(monkeypatch):
    patient, payer = PatientFactory(), make_payer()
    add(patient, payer)
    row = dict(patient_id=patient.id, priority=1, self_pay=False, payer_id=payer.id, member_id="X1",
               effective_date=date(2026, 5, 1), subscriber_relationship="self", status="active", version=1,
               created_on=NOON_UTC, changed_on=NOON_UTC)
    with pytest.raises(Exception) as exc:
        with db.engine.begin() as conn:
            conn.execute(insert(Coverage.__table__).values(**row))
    assert coverage_service._is_overlap_refusal(exc.value)
    assert count() == 1
    # a voided coverage does not count, and a race the service check missed is reported like the check
    with db.engine.begin() as conn:
        conn.execute(insert(Coverage.__table__).values(**dict(row, status="voided")))
    original = coverage_service._validate
    monkeypatch.setattr(coverage_service, "_validate", lambda session, patient, v, exclude_id=None: original(
        session, SimpleNamespace(id=-1), v, exclude_id=exclude_id))  # a check that sees no coverage at all
    with pytest.raises(ValidationFailed) as exc:
        add(patient, payer, effective_date=date(2026, 9, 1), member_id="RACE")
    assert "This overlaps the Primary coverage “Acme Health” from 2026-01-01" in problems(exc)["effective_date"]
    assert count() == 2


def test_bad_values_are_all_reported_at_once_and_nothing_is_written():
    patient, payer = PatientFactory(), make_payer()
    with pytest.raises(ValidationFailed) as exc:
        add(patient, payer, effective_date=date(2026, 5, 1), end_date=date(2026, 4, 30), member_id=None,
            copay=Decimal("-5"), priority=4)
    found = problems(exc)
    assert "must not be before" in found["end_date"]
    assert "member id is required" in found["member_id"]
    assert "negative" in found["copay"]
    assert "primary, secondary or tertiary" in found["priority"]
    with pytest.raises(ValidationFailed) as exc:
        add(patient, payer, member_id="bad id!")
    assert "letters, digits or hyphens" in problems(exc)["member_id"]
    with pytest.raises(ValidationFailed) as exc:
        add(patient, payer, self_pay=True)
    assert "self-pay coverage has no payer" in problems(exc)["payer"]
    with pytest.raises(ValidationFailed) as exc:
        add(patient, None)
    assert "Choose the payer" in problems(exc)["payer"]
    assert count() == 0


def test_a_subscriber_other_than_the_patient_must_be_identified():
    patient, payer = PatientFactory(), make_payer()
    spouse = PatientFactory()
    with pytest.raises(ValidationFailed) as exc:
        add(patient, payer, subscriber_relationship="spouse")
    assert "MRN" in problems(exc)["subscriber_mrn"]
    with pytest.raises(ValidationFailed) as exc:
        add(patient, payer, subscriber_relationship="spouse", subscriber_mrn="NOPE0000")
    assert "No patient has the MRN" in problems(exc)["subscriber_mrn"]
    by_mrn = add(patient, payer, subscriber_relationship="spouse", subscriber_mrn=spouse.mrn)
    assert by_mrn.subscriber_patient_id == spouse.id
    described = add(patient, payer, priority=2, subscriber_relationship="child", subscriber_family_name="Doe",
                    subscriber_given_name="Jane", subscriber_birth_date=date(1980, 2, 3))
    assert (described.subscriber_family_name, described.subscriber_patient_id) == ("Doe", None)
    assert coverage_service.subscriber_display(described) == "Doe, Jane"


def test_self_pay_bills_the_guarantor_and_voiding_takes_a_coverage_out_of_force():
    patient = PatientFactory(guarantor_relationship="parent", guarantor_name="Maria Lopez")
    cov = coverage_service.add_coverage(db.session, patient, self_pay=True, priority=1, effective_date=JAN_1)
    assert coverage_service.billed_party(cov) == "Maria Lopez"
    assert coverage_service.active_coverages(db.session, patient.id, date(2026, 3, 1)) == [cov]
    with pytest.raises(ValidationFailed):
        coverage_service.void_coverage(db.session, cov, reason=" ")
    with pytest.raises(StaleRecordError):
        coverage_service.void_coverage(db.session, cov, reason="Entered twice", expected_version=cov.version + 1)
    coverage_service.void_coverage(db.session, cov, reason="Entered twice", expected_version=cov.version)
    assert coverage_service.active_coverages(db.session, patient.id, date(2026, 3, 1)) == []


def test_active_coverages_for_a_date_in_priority_order():
    patient, payer, second = PatientFactory(), make_payer(), make_payer("Medicaid", "MCD01", cfi="MC")
    old = add(patient, payer, end_date=date(2026, 3, 31))
    new = add(patient, payer, effective_date=date(2026, 4, 1), member_id="NEW-9")
    sec = add(patient, second, priority=2, member_id="M-2", effective_date=date(2026, 2, 1))
    assert coverage_service.active_coverages(db.session, patient.id, date(2026, 1, 15)) == [old]
    assert coverage_service.active_coverages(db.session, patient.id, date(2026, 3, 31)) == [old, sec]
    assert coverage_service.active_coverages(db.session, patient.id, date(2026, 4, 1)) == [new, sec]
    assert coverage_service.active_coverages(db.session, patient.id, date(2025, 12, 31)) == []


# --------------------------------------------------------------------------- screens


def form_data(client, **kw):
    data = {"csrf_token": client.csrf_token, "priority": "1", "payer": "", "plan_name": "Gold PPO",
            "member_id": "XJD123456789", "group_number": "GRP-77", "effective_date": "1/1/2026", "end_date": "",
            "copay": "25.00", "subscriber_relationship": "self", "subscriber_mrn": "", "subscriber_family_name": "",
            "subscriber_given_name": "", "subscriber_birth_date": "", "subscriber_sex": ""}
    data.update(kw)
    return data


def test_front_desk_adds_a_coverage_and_the_chart_masks_the_member_id(client, login_as):
    login_as("FrontDesk")
    patient, payer = PatientFactory(), make_payer()
    page = client.get(f"/coverage/add/{patient.id}")
    assert page.status_code == 200 and "Acme Health (ACME1)" in text(page)
    resp = client.post(f"/coverage/add/{patient.id}", data=form_data(client, payer=str(payer.id)))
    assert resp.status_code == 302 and resp.location.endswith("#chart-coverage")
    cov = db.session.scalars(select(Coverage)).one()
    assert (cov.member_id, cov.copay, cov.effective_date) == ("XJD123456789", Decimal("25.00"), JAN_1)
    chart = text(client.get(f"/patients/{patient.id}/chart?coverage_date=2026-03-01"))
    assert "Insurance" in chart and "Acme Health" in chart and "••••6789" in chart
    assert "XJD123456789" not in chart
    assert "In force on" in chart
    # the edit form shows the full id, and that showing is audited
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    edit = text(client.get(f"/coverage/{cov.id}/edit"))
    assert 'value="XJD123456789"' in edit
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).all()
    assert len(events) > before and events[0].object_type == "Coverage" and events[0].patient_id == patient.id


def test_an_overlap_on_the_form_says_so_and_writes_nothing(client, login_as):
    login_as("FrontDesk")
    patient, payer = PatientFactory(), make_payer()
    add(patient, payer)
    resp = client.post(f"/coverage/add/{patient.id}",
                       data=form_data(client, payer=str(payer.id), effective_date="6/1/2026", member_id="OTHER1"))
    assert resp.status_code == 200
    assert "This overlaps the Primary coverage “Acme Health”" in text(resp)
    assert count() == 1


def test_the_chart_highlights_the_coverage_in_force_on_the_chosen_date(client, login_as):
    login_as("Billing")
    patient, payer = PatientFactory(), make_payer()
    old = add(patient, payer, end_date=date(2026, 3, 31), member_id="OLD-1111")
    new = add(patient, payer, effective_date=date(2026, 4, 1), member_id="NEW-2222")

    def active_row(query):
        page = text(client.get(f"/patients/{patient.id}/chart?coverage_date={query}"))
        rows = [r for r in page.split("<tr") if "cd-coverage-active" in r]
        return rows

    rows = active_row("2026-02-10")
    assert len(rows) == 1 and f'data-coverage-id="{old.id}"' in rows[0]
    rows = active_row("2026-04-10")
    assert len(rows) == 1 and f'data-coverage-id="{new.id}"' in rows[0]
    page = text(client.get(f"/patients/{patient.id}/chart?coverage_date=2025-01-01"))
    assert "No coverage is in force on" in page


def test_edit_and_void_from_the_screens(client, login_as):
    login_as("OfficeManager")
    patient, payer = PatientFactory(), make_payer()
    cov = add(patient, payer)
    resp = client.post(f"/coverage/{cov.id}/edit", data=form_data(
        client, payer=str(payer.id), version=str(cov.version), copay="30", end_date="12/31/2026"))
    assert resp.status_code == 302
    db.session.expire_all()
    assert (cov.copay, cov.end_date) == (Decimal("30.00"), date(2026, 12, 31))
    stale = client.post(f"/coverage/{cov.id}/edit", data=form_data(client, payer=str(payer.id), version="1"))
    assert "Someone else changed this record" in text(stale)
    resp = client.post(f"/coverage/{cov.id}/void", data={"csrf_token": client.csrf_token, "version": str(cov.version),
                                                       "reason": "Wrong patient"}, follow_redirects=True)
    assert "The coverage was voided." in text(resp)
    db.session.expire_all()
    assert cov.status == "voided" and cov.void_reason == "Wrong patient"


def test_self_pay_on_the_chart_names_the_guarantor(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory(guarantor_relationship="parent", guarantor_name="Maria Lopez")
    resp = client.post(f"/coverage/add/{patient.id}", data=form_data(client, self_pay="y", member_id=""))
    assert resp.status_code == 302
    chart = text(client.get(f"/patients/{patient.id}/chart"))
    assert "Self-pay" in chart and "Billed to: Maria Lopez" in chart


def test_a_clinician_can_neither_see_nor_add_coverages(client, login_as):
    patient, payer = PatientFactory(), make_payer()
    add(patient, payer)
    login_as("Clinician")
    assert client.get(f"/coverage/add/{patient.id}").status_code == 403
    assert client.post(f"/coverage/add/{patient.id}", data=form_data(client, payer=str(payer.id))).status_code == 403
    chart = text(client.get(f"/patients/{patient.id}/chart"))
    assert "Acme Health" not in chart and 'id="chart-coverage"' not in chart
    assert count() == 1


# --------------------------------------------------------------------------- prior authorization


def test_an_appointment_type_needing_authorization_with_the_primary_payer_shows_a_notice(client, login_as):
    c = make_clinic()
    payer, other = make_payer(), make_payer("Blue Shield", "BS001")
    login_as("OfficeManager")
    page = text(client.get(f"/appointmenttypeview/edit/{c.type.id}"))
    assert "Needs prior authorization with" in page
    resp = client.post(f"/appointmenttypeview/edit/{c.type.id}", data={
        "csrf_token": client.csrf_token, "name": c.type.name, "default_duration": "30", "colour": "#aa3300",
        "active": "y", "auth_payers": [str(payer.id)]})
    assert resp.status_code == 302
    db.session.expire_all()
    assert c.type.auth_payers == [payer]
    appt = book(c, datetime(2027, 1, 11, 9, 0))
    add(c.patient, other, effective_date=date(2026, 1, 1), end_date=date(2026, 12, 31))
    assert "appointment-auth-notice" not in text(client.get(f"/appointments/{appt.id}"))  # no coverage that day
    add(c.patient, payer, effective_date=date(2027, 1, 1))
    page = text(client.get(f"/appointments/{appt.id}"))
    assert "appointment-auth-notice" in page
    assert "A “Follow-up” visit needs a prior authorization from Acme Health" in page

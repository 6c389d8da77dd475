"""Restricted records open only with a reason; every use is flagged for review."""
import json

import pytest

from app.extensions import db
from app.models import AuditEvent, Patient
from tests.factories import PatientFactory, ProviderFactory


@pytest.fixture
def restricted():
    return PatientFactory(family_name="Famous", given_name="Person", restricted=True)


def flagged_events(patient_id):
    db.session.expire_all()
    return db.session.query(AuditEvent).filter_by(patient_id=patient_id, flagged=True).order_by(AuditEvent.seq).all()


def test_restricted_chart_asks_for_a_reason_and_shows_nothing_before(client, login_as, restricted):
    login_as("FrontDesk")
    resp = client.get(f"/patients/{restricted.id}/chart")
    assert resp.status_code == 302 and f"/patients/{restricted.id}/break-glass" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Restricted record" in page
    assert db.session.query(AuditEvent).filter_by(patient_id=restricted.id, action="view").count() == 0


def test_a_short_reason_is_refused(client, login_as, restricted):
    login_as("FrontDesk")
    resp = client.post(f"/patients/{restricted.id}/break-glass", data={"reason": "need", "csrf_token": client.csrf_token})
    assert "at least 10 characters" in resp.get_data(as_text=True)
    assert flagged_events(restricted.id) == []


def test_break_glass_opens_the_record_and_flags_every_access(client, login_as, restricted):
    login_as("FrontDesk")
    resp = client.post(f"/patients/{restricted.id}/break-glass?next=/patients/{restricted.id}/edit",
                       data={"reason": "Patient at the desk asking to update address", "csrf_token": client.csrf_token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/patients/{restricted.id}/edit")
    assert client.get(f"/patients/{restricted.id}/chart").status_code == 200
    events = flagged_events(restricted.id)
    assert [e.action for e in events] == ["break_glass", "view"]
    assert json.loads(events[0].details)["reason"] == "Patient at the desk asking to update address"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "evil"])
def test_break_glass_next_cannot_leave_the_site(client, login_as, restricted, target):
    login_as("FrontDesk")
    resp = client.post(f"/patients/{restricted.id}/break-glass", query_string={"next": target},
                       data={"reason": "Patient at the desk, urgent", "csrf_token": client.csrf_token})
    assert resp.headers["Location"].endswith(f"/patients/{restricted.id}/chart")


def test_break_glass_returns_to_the_screen_that_asked_with_its_query(client, login_as, restricted):
    login_as("FrontDesk")
    asked = client.get(f"/appointments/book?patient={restricted.id}")
    assert asked.status_code == 302 and "break-glass" in asked.headers["Location"]
    resp = client.post(asked.headers["Location"], data={"reason": "Booking the patient's follow-up visit",
                                                        "csrf_token": client.csrf_token})
    assert resp.headers["Location"].endswith(f"/appointments/book?patient={restricted.id}")
    assert client.get(resp.headers["Location"]).status_code == 200


def test_primary_provider_opens_own_restricted_patient_without_break_glass(client, login_as):
    user = login_as("Clinician")
    provider = ProviderFactory(user_id=user.id)
    patient = PatientFactory(restricted=True, primary_provider_id=provider.id)
    assert client.get(f"/patients/{patient.id}/chart").status_code == 200
    assert flagged_events(patient.id) == []


def test_every_patient_screen_enforces_the_rule(client, login_as, restricted):
    login_as("OfficeManager")
    for url in (f"/patients/{restricted.id}/edit", f"/patients/{restricted.id}/merge",
                f"/disclosures/{restricted.id}/new"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/break-glass" in resp.headers["Location"], url
    resp = client.post(f"/disclosures/{restricted.id}/accounting.pdf", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 302 and "/break-glass" in resp.headers["Location"]


def test_only_privacy_trusted_roles_change_the_restriction(client, login_as, auth):
    patient = PatientFactory(family_name="Lee", given_name="Ann", birth_date=__import__("datetime").date(1980, 3, 4))
    form = {"family_name": "Lee", "given_name": "Ann", "birth_date": "3/4/1980", "sex": "female",
            "preferred_language": "en", "guarantor_relationship": "self", "status": "active", "restricted": "y"}
    login_as("FrontDesk")
    page = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert 'name="restricted"' not in page
    client.post(f"/patients/{patient.id}/edit", data=dict(form, version="1", csrf_token=client.csrf_token))
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).restricted is False
    auth.logout()
    login_as("OfficeManager")
    version = db.session.get(Patient, patient.id).version
    client.post(f"/patients/{patient.id}/edit", data=dict(form, version=str(version), csrf_token=client.csrf_token))
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).restricted is True


def test_search_marks_restricted_patients_and_hides_their_phone(client, login_as):
    PatientFactory(family_name="Hidden", given_name="Star", restricted=True, phone_mobile="+12127361234")
    login_as("FrontDesk")
    data = client.post("/patients/search", json={"q": "hidden"}, headers={"X-CSRFToken": client.csrf_token}).get_json()
    assert data["results"][0]["restricted"] is True and data["results"][0]["phone"] == ""

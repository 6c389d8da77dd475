"""Hostile and malformed input: refused with a clear message, or stored and shown escaped."""
import pytest

from app.extensions import db
from app.models import Patient
from app.services.patients import EDITABLE_FIELDS
from tests.factories import PatientFactory

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
TEXT_FIELDS = ["family_name", "given_name", "middle_name", "preferred_name", "address_line1", "address_line2",
               "city", "state", "postal_code", "emergency_contact_name", "emergency_contact_relationship",
               "guardian_name", "guardian_relationship", "notes"]


def base_form(client):
    return {"family_name": "Safe", "given_name": "Person", "birth_date": "3/4/1980", "sex": "female",
            "preferred_language": "en", "guarantor_relationship": "self", "status": "active",
            "csrf_token": client.csrf_token}


def test_every_text_field_is_rendered_escaped(client, login_as):
    login_as("FrontDesk")
    form = base_form(client)
    limits = {c.name: getattr(c.type, "length", None) for c in Patient.__table__.columns}
    form.update({field: (XSS + field)[: limits[field] or None] for field in TEXT_FIELDS})
    resp = client.post("/patients/register", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    patient = db.session.query(Patient).one()
    assert patient.notes == XSS + "notes"  # stored as typed
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert "<script>alert" not in chart and "<img src=x" not in chart
    assert "&lt;script&gt;" in chart
    edit = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert "<script>alert" not in edit
    results = client.post("/patients/search", json={"q": "safe"}, headers={"X-CSRFToken": client.csrf_token})
    assert results.mimetype == "application/json"  # the page inserts results with textContent


@pytest.mark.parametrize("field, value, message", [
    ("birth_date", "abc", "Not a valid date"),
    ("birth_date", "99/99/9999", "Not a valid date"),
    ("sex", "robot", "Unknown value"),
    ("status", "merged", "A new patient is active or inactive"),
    ("gender_identity", "x" * 30, "Unknown value"),
    ("country", "USA", "two-letter country code"),
    ("hipaa_notice_ack_date", "1/1/2999", "cannot be in the future"),
    ("guarantor_relationship", "cousin", "Unknown value"),
    ("postal_code", "1" * 21, "At most 20 characters"),
    ("notes", "x" * 100, None),  # long notes are fine (Text)
])
def test_wrong_types_and_oversized_values_are_refused_and_change_nothing(client, login_as, field, value, message):
    login_as("FrontDesk")
    resp = client.post("/patients/register", data=dict(base_form(client), **{field: value}))
    if message is None:
        assert resp.status_code == 302
        return
    assert resp.status_code == 200
    assert message in resp.get_data(as_text=True).replace("&#34;", '"').replace("&#8220;", "“").replace("&#8221;", "”")
    assert db.session.query(Patient).count() == 0


def test_a_tampered_provider_or_guarantor_id_is_refused(client, login_as):
    login_as("FrontDesk")
    for tampered in ("999999", "abc", "-5"):
        html = client.post("/patients/register", data=dict(base_form(client), primary_provider_id=tampered)).get_data(as_text=True)
        assert "Choose an active provider" in html, tampered
    html = client.post("/patients/register", data=dict(base_form(client), guarantor_relationship="parent", guarantor_mrn="00000000")).get_data(as_text=True)
    assert "Choose another registered patient as guarantor" in html
    assert db.session.query(Patient).count() == 0


def test_search_survives_hostile_queries(client, login_as):
    login_as("FrontDesk")
    PatientFactory(family_name="Smith")
    for q in ["' OR 1=1 --", "%", "_", "\\", "\x00", "a" * 5000, "😀", "smith\u202e", {"$gt": ""}, ["smith"], 42]:
        resp = client.post("/patients/search", json={"q": q}, headers={"X-CSRFToken": client.csrf_token})
        assert resp.status_code == 200, q
        assert isinstance(resp.get_json()["results"], list)
    assert client.post("/patients/search", json={"q": "%"}, headers={"X-CSRFToken": client.csrf_token}).get_json()["results"] == []


def test_every_editable_field_is_on_the_form():
    from app.views.forms import PatientForm

    missing = [f for f in EDITABLE_FIELDS if f not in PatientForm.__dict__ and f != "guarantor_patient_id"]
    assert missing == []

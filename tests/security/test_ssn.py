"""Patient SSN: stored only encrypted, shown masked, revealed only to billing roles (audited)."""
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent, Patient, PatientSearchTerm
from app.services import crypto
from app.services import patients as patient_service
from app.services import ssn as ssn_service
from app.services.errors import ValidationFailed
from tests.conftest import make_user
from tests.factories import PatientFactory

SSN = "536-22-4917"
DIGITS = "536224917"
MASKED = "***-**-4917"
FORM = {"family_name": "Okafor", "given_name": "Ada", "birth_date": "3/4/1980", "sex": "female",
        "preferred_language": "en", "guarantor_relationship": "self", "status": "active"}


def with_ssn(number=SSN, **fields):
    patient = PatientFactory(**fields)
    patient_service.update_patient(db.session, patient, {"ssn": number}, expected_version=patient.version)
    return patient


def post_edit(client, patient, **fields):
    return client.post(f"/patients/{patient.id}/edit",
                       data=dict(FORM, version=str(patient.version), csrf_token=client.csrf_token, **fields))


def edited(client, login_as, role, **fields):
    """A patient with SSN on file after `role` saved the edit form with `fields`."""
    patient = with_ssn()
    login_as(role)
    assert post_edit(client, patient, **fields).status_code == 302
    db.session.expire_all()
    return patient


def database_text():
    """Everything the database holds, as text: the whole SQLite file (and its WAL), or every
    PostgreSQL table we own dumped row by row."""
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(db.engine.url.database)
        data = path.read_bytes()
        wal = Path(str(path) + "-wal")
        if wal.exists():
            data += wal.read_bytes()
        return data.decode("latin-1")
    with db.engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        return "\n".join(
            row for t in tables for row in conn.execute(text(f'SELECT t::text FROM "{t}" t')).scalars()
        )


def assert_nowhere(haystack):
    assert DIGITS not in haystack and SSN not in haystack and "536 22 4917" not in haystack


def audit_rows():
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


# --------------------------------------------------------------------------- storage

def test_ssn_typed_at_registration_is_stored_only_encrypted(client, login_as):
    login_as("FrontDesk")
    resp = client.post("/patients/register", data=dict(FORM, ssn=SSN, csrf_token=client.csrf_token))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    patient = db.session.query(Patient).filter_by(family_name="Okafor").one()
    raw = db.session.execute(
        text("SELECT ssn_encrypted, ssn_last4 FROM patient WHERE id = :id"), {"id": patient.id}
    ).one()
    assert raw.ssn_last4 == "4917"
    assert DIGITS not in raw.ssn_encrypted and crypto.decrypt(raw.ssn_encrypted) == DIGITS
    assert_nowhere(database_text())
    terms = db.session.scalars(select(PatientSearchTerm.term).filter_by(patient_id=patient.id)).all()
    assert not any("4917" in str(t) for t in terms)
    create = [e for e in audit_rows() if e.action == "create" and e.object_type == "Patient"]
    details = json.loads(create[0].details)["changes"]
    assert details["ssn_encrypted"] == "***" and details["ssn_last4"] == "***"


def test_ssn_is_typed_with_or_without_dashes():
    assert ssn_service.parse("536-22-4917") == (DIGITS, None)
    assert ssn_service.parse(" 536224917 ") == (DIGITS, None)
    assert ssn_service.parse("536 22 4917") == (DIGITS, None)


@pytest.mark.parametrize("typed, message", [
    ("53622491", "9 digits"), ("5362249170", "9 digits"), ("536-22-491x", "9 digits"), ("53-622-4917", "9 digits"),
    ("000-22-4917", "not a valid SSN"), ("666-22-4917", "not a valid SSN"), ("900-22-4917", "not a valid SSN"),
    ("999-22-4917", "not a valid SSN"), ("536-00-4917", "not a valid SSN"), ("536-22-0000", "not a valid SSN"),
    ("078-05-1120", "not a valid SSN"), ("219-09-9999", "not a valid SSN"), ("123-45-6789", "not a valid SSN"),
])
def test_invalid_ssns_are_refused_with_a_message_and_nothing_changes(client, login_as, typed, message):
    patient = with_ssn()
    version = patient.version
    login_as("FrontDesk")
    resp = post_edit(client, patient, ssn=typed)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and message in page
    assert typed not in page  # what was typed is not echoed back
    db.session.expire_all()
    assert patient.version == version and patient.ssn_last4 == "4917"
    with pytest.raises(ValidationFailed) as exc:
        patient_service.clean({"family_name": "A", "given_name": "B", "birth_date": dt.date(1980, 1, 1),
                               "preferred_language": "en", "ssn": typed})
    assert [field for field, _ in exc.value.problems] == ["ssn"]


def test_the_spanish_message_is_translated(client, login_as):
    patient = with_ssn()
    user = login_as("FrontDesk")
    user.locale = "es"
    db.session.commit()
    page = post_edit(client, patient, ssn="666-22-4917").get_data(as_text=True)
    assert "not a valid SSN" not in page and "SSN" in page


# --------------------------------------------------------------------------- the form

def test_edit_form_never_shows_the_number_and_an_empty_box_keeps_it(client, login_as):
    patient = with_ssn()
    login_as("FrontDesk")
    page = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert "•••-••-4917 on file" in page and 'name="ssn_remove"' in page
    assert re.search(r'<input[^>]*name="ssn"[^>]*value=""', page)
    assert_nowhere(page)
    before = patient.ssn_encrypted
    resp = post_edit(client, patient, ssn="", city="Boston")
    assert resp.status_code == 302
    db.session.expire_all()
    assert patient.city == "Boston" and patient.ssn_encrypted == before


def test_a_new_number_replaces_the_old_and_the_change_is_audited_without_it(client, login_as):
    patient = edited(client, login_as, "OfficeManager", ssn="536224918")
    assert patient.ssn_last4 == "4918" and ssn_service.reveal(patient) == "536-22-4918"
    update = [e for e in audit_rows() if e.action == "update" and e.object_type == "Patient"][-1]
    changes = json.loads(update.details)["changes"]
    assert changes["ssn_last4"] == ["***", "***"] and changes["ssn_encrypted"] == ["***", "***"]
    assert "4918" not in update.details and "4917" not in update.details


def test_removing_the_ssn(client, login_as):
    patient = edited(client, login_as, "FrontDesk", ssn_remove="y")
    assert patient.ssn_encrypted is None and patient.ssn_last4 is None
    page = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert "on file" not in page and 'name="ssn_remove"' not in page


# --------------------------------------------------------------------------- masked everywhere

@pytest.mark.parametrize("role", ["FrontDesk", "Billing", "Clinician", "OfficeManager"])
def test_chart_search_and_list_show_only_the_masked_number(client, login_as, role):
    patient = with_ssn(family_name="Okafor")
    login_as(role)
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert MASKED in chart
    assert ("Show full SSN" in chart) == (role in ("Billing", "OfficeManager"))
    found = client.post("/patients/search", json={"q": "okafor"}, headers={"X-CSRFToken": client.csrf_token}).get_json()
    assert found["results"][0]["ssn"] == MASKED
    listing = client.get("/patientlistview/list/").get_data(as_text=True)
    assert MASKED in listing
    for text_ in (chart, json.dumps(found), listing):
        assert_nowhere(text_)


@pytest.mark.parametrize("role", ["FrontDesk", "Billing"])
def test_report_csv_shows_only_the_masked_number(client, login_as, role):
    with_ssn(family_name="Okafor")
    login_as(role)
    resp = client.post("/reports/patient_list/", data={"csrf_token": client.csrf_token, "format": "csv", "defaults": "1"})
    body = resp.data.decode("utf-8-sig")
    assert resp.status_code == 200 and MASKED in body
    assert_nowhere(body)


# --------------------------------------------------------------------------- reveal

def test_billing_reveals_the_full_number_by_post_and_it_is_audited_without_it(client, login_as):
    patient = with_ssn()
    login_as("Billing")
    resp = client.post(f"/patients/{patient.id}/ssn", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 200 and SSN in resp.get_data(as_text=True)
    assert "no-store" in resp.headers.get("Cache-Control", "")
    reveal = [e for e in audit_rows() if e.action == "reveal"]
    assert len(reveal) == 1 and reveal[0].object_type == "SSN" and reveal[0].patient_id == patient.id
    for event in audit_rows():
        assert_nowhere(" ".join(str(v) for v in (event.details, event.path, event.object_id)))
    assert_nowhere(database_text())


def test_reveal_needs_the_csrf_token_and_a_post(client, login_as):
    patient = with_ssn()
    login_as("Billing")
    assert client.post(f"/patients/{patient.id}/ssn").status_code == 400
    assert client.get(f"/patients/{patient.id}/ssn").status_code == 405
    assert not [e for e in audit_rows() if e.action == "reveal"]


@pytest.mark.parametrize("role", ["FrontDesk", "Clinician"])
def test_reveal_is_refused_to_roles_that_do_not_need_it(client, login_as, role):
    patient = with_ssn()
    login_as(role)
    resp = client.post(f"/patients/{patient.id}/ssn", data={"csrf_token": client.csrf_token})
    assert resp.status_code == 403
    assert_nowhere(resp.get_data(as_text=True))
    assert not [e for e in audit_rows() if e.action == "reveal"]


# --------------------------------------------------------------------------- key rotation

def test_old_key_still_decrypts_after_a_new_key_is_put_first(app, client, login_as):
    patient = with_ssn()
    old_key = app.config["FIELD_ENCRYPTION_KEY"]
    new_key = Fernet.generate_key().decode()
    app.config["FIELD_ENCRYPTION_KEY"] = f"{new_key},{old_key}"
    try:
        assert ssn_service.reveal(patient) == SSN
        login_as("Billing")
        assert SSN in client.post(f"/patients/{patient.id}/ssn", data={"csrf_token": client.csrf_token}).get_data(as_text=True)
        # A newly typed number is written under the new key; rotate() moves old values to it.
        rotated = crypto.rotate(patient.ssn_encrypted)
        assert crypto.decrypt(rotated, keys=new_key) == DIGITS
        other = with_ssn("536-22-4918")
        assert crypto.decrypt(other.ssn_encrypted, keys=new_key) == "536224918"
    finally:
        app.config["FIELD_ENCRYPTION_KEY"] = old_key


def test_rotate_field_key_rewrites_every_value_under_the_new_key(app, runner):
    patient = with_ssn()
    user = make_user("Billing")
    user.totp_secret = crypto.encrypt("JBSWY3DPEHPK3PXP")
    db.session.commit()
    old_key = app.config["FIELD_ENCRYPTION_KEY"]
    new_key = Fernet.generate_key().decode()
    app.config["FIELD_ENCRYPTION_KEY"] = f"{new_key},{old_key}"
    try:
        result = runner.invoke(args=["clinic", "rotate-field-key"])
        assert result.exit_code == 0, result.output
        assert "patient.ssn_encrypted: 1 re-encrypted" in result.output
        db.session.expire_all()
        assert crypto.decrypt(patient.ssn_encrypted, keys=new_key) == DIGITS
        assert crypto.decrypt(user.totp_secret, keys=new_key) == "JBSWY3DPEHPK3PXP"
        event = [e for e in audit_rows() if e.action == "key_rotation"][0]
        assert json.loads(event.details) == {"patient.ssn_encrypted": 1, "ab_user.totp_secret": 1}
        # Without the key that wrote a value nothing can be rotated, and nothing changes.
        before = patient.ssn_encrypted
        app.config["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
        result = runner.invoke(args=["clinic", "rotate-field-key"])
        assert result.exit_code != 0 and "nothing was changed" in result.output
        db.session.expire_all()
        assert patient.ssn_encrypted == before
    finally:
        app.config["FIELD_ENCRYPTION_KEY"] = old_key

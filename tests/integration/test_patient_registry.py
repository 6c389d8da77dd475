"""Patient registry through the screens a front-desk secretary uses."""
import re
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import Patient, PatientSearchTerm
from app.services import patients as patient_service
from app.services.checkdigits import luhn_valid
from tests.factories import PatientFactory, ProviderFactory

BASE = {
    "family_name": "García",
    "given_name": "José",
    "birth_date": "3/4/1980",
    "sex": "male",
    "preferred_language": "Spanish — es",
    "phone_mobile": "(212) 736-1234",
    "email": "jose@example.org",
    "guarantor_relationship": "self",
    "status": "active",
    "country": "US",
}


def post_form(client, url, **changes):
    data = dict(BASE, csrf_token=client.csrf_token)
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(url, data=data)


def count_patients():
    return db.session.query(Patient).count()


def test_register_creates_patient_with_mrn_e164_phone_and_language(client, login_as):
    login_as("FrontDesk")
    resp = post_form(client, "/patients/register")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    patient = db.session.query(Patient).one()
    assert luhn_valid(patient.mrn) and len(patient.mrn) == 8
    assert patient.phone_mobile == "+12127361234"
    assert patient.preferred_language == "es"
    assert patient.birth_date == date(1980, 3, 4)
    assert patient.version == 1
    assert patient.created_by.username == "frontdesk1"
    chart = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert patient.mrn in chart and "García, José" in chart and "(212) 736-1234" in chart
    assert "Spanish" in chart


def test_mrns_are_unique_and_never_reused(client, login_as):
    login_as("FrontDesk")
    first = patient_service.reserve_mrns(db.session, 3)
    db.session.commit()
    second = patient_service.reserve_mrns(db.session, 1)
    db.session.commit()
    assert len(set(first + second)) == 4
    assert int(second[0][:-1]) == int(first[-1][:-1]) + 1


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("birth_date", (date.today() + timedelta(days=1)).strftime("%-m/%-d/%Y"), "cannot be in the future"),
        ("birth_date", "31/31/1980", "Not a valid date"),
        ("phone_mobile", "12345", "is not a valid phone number"),
        ("email", "jose@", "is not a valid e-mail address"),
        ("preferred_language", "Klingonish", "Unknown language"),
        ("family_name", "", "This field is required"),
        ("family_name", "x" * 101, "At most 100 characters"),
        ("status", "deceased", "Enter the date of death"),
        ("guarantor_relationship", "other", "Name the guarantor"),
    ],
)
def test_bad_input_gets_a_clear_error_keeps_the_input_and_changes_nothing(client, login_as, field, value, message):
    login_as("FrontDesk")
    resp = post_form(client, "/patients/register", **{field: value})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert message in html.replace("&#34;", '"').replace("&#39;", "'")
    assert 'value="jose@example.org"' in html or field == "email"  # what was typed is still there
    assert count_patients() == 0


def test_minor_needs_a_guardian(client, login_as):
    login_as("FrontDesk")
    child_birth = date.today().replace(year=date.today().year - 5).strftime("%-m/%-d/%Y")
    resp = post_form(client, "/patients/register", birth_date=child_birth)
    assert "A patient under 18 needs a parent or guardian" in resp.get_data(as_text=True)
    assert count_patients() == 0
    resp = post_form(client, "/patients/register", birth_date=child_birth, guardian_name="Ana García", guardian_relationship="mother")
    assert resp.status_code == 302
    assert count_patients() == 1


def test_all_problems_are_listed_at_once(client, login_as):
    login_as("FrontDesk")
    html = post_form(client, "/patients/register", family_name="", phone_mobile="12345", email="@").get_data(as_text=True)
    for msg in ("This field is required", "is not a valid phone number", "is not a valid e-mail address"):
        assert msg in html.replace("&#34;", '"')


def test_duplicate_warning_same_name_and_birth_date_accents_ignored(client, login_as):
    login_as("FrontDesk")
    existing = PatientFactory(family_name="Garcia", given_name="Jose", birth_date=date(1980, 3, 4))
    resp = post_form(client, "/patients/register", phone_mobile=None)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "may already be registered" in html
    assert existing.mrn in html
    assert count_patients() == 1
    resp = post_form(client, "/patients/register", phone_mobile=None, allow_duplicate="y")
    assert resp.status_code == 302
    assert count_patients() == 2


def test_duplicate_warning_names_swapped_or_same_phone(client, login_as):
    login_as("FrontDesk")
    PatientFactory(family_name="José", given_name="García", birth_date=date(1980, 3, 4))
    assert "may already be registered" in post_form(client, "/patients/register").get_data(as_text=True)
    PatientFactory(family_name="Other", given_name="Person", birth_date=date(1970, 1, 1), phone_mobile="+12127361234")
    html = post_form(client, "/patients/register", family_name="Brand", given_name="New", birth_date="1/1/1990").get_data(as_text=True)
    assert "may already be registered" in html and "Other, Person" in html


def test_second_save_of_a_stale_form_is_refused_and_overwrites_nothing(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory(family_name="Nguyen", given_name="An", email="an@example.org")
    edit_url = f"/patients/{patient.id}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    common = dict(family_name="Nguyen", given_name="An", birth_date="3/4/1980", sex="female",
                  preferred_language="vi", guarantor_relationship="self", status="active", version=version)
    first = post_form(client, edit_url, **common, email="first@example.org", phone_mobile=None)
    assert first.status_code == 302
    second = post_form(client, edit_url, **common, email="second@example.org", phone_mobile=None)
    assert second.status_code == 200
    assert "Someone else changed this record" in second.get_data(as_text=True)
    db.session.expire_all()
    patient = db.session.get(Patient, patient.id)
    assert patient.email == "first@example.org"
    assert patient.version == 2


def test_concurrent_update_detected_by_version_column(app):
    """Two sessions read version 1; the later commit is refused by the database check."""
    patient = PatientFactory()
    pid = patient.id
    s1, s2 = db.session, db.sessionmaker()() if hasattr(db, "sessionmaker") else None
    from sqlalchemy.orm import Session

    s2 = Session(db.engine)
    try:
        p1, p2 = s1.get(Patient, pid), s2.get(Patient, pid)
        patient_service.update_patient(s1, p1, {"email": "a@example.org"}, expected_version=1)
        with pytest.raises(patient_service.StaleRecordError):
            patient_service.update_patient(s2, p2, {"email": "b@example.org"}, expected_version=1)
    finally:
        s2.close()
    db.session.expire_all()
    assert db.session.get(Patient, pid).email == "a@example.org"


def test_search_terms_follow_every_change(app):
    patient = PatientFactory(family_name="Đặng", given_name="Thị Hoa", phone_mobile="+12127361234")
    terms = {t.term for t in db.session.query(PatientSearchTerm).filter_by(patient_id=patient.id)}
    assert terms == {"dang", "thi", "hoa", "2127361234"}
    patient.family_name = "Lê"
    db.session.commit()
    terms = {t.term for t in db.session.query(PatientSearchTerm).filter_by(patient_id=patient.id)}
    assert terms == {"le", "thi", "hoa", "2127361234"}
    assert patient.name_search == "le thi hoa"


def test_merge_moves_references_and_keeps_the_duplicate_as_merged(client, login_as):
    login_as("OfficeManager")
    keep = PatientFactory(family_name="Garcia", given_name="Jose")
    dup = PatientFactory(family_name="García", given_name="José")
    child = PatientFactory(family_name="Garcia", given_name="Luis", guarantor_relationship="parent", guarantor_patient_id=dup.id)
    url = f"/patients/{dup.id}/merge"
    preview = client.post(url, data={"target_mrn": keep.mrn, "csrf_token": client.csrf_token})
    assert preview.status_code == 200 and keep.mrn in preview.get_data(as_text=True)
    assert db.session.get(Patient, dup.id).status == "active"  # preview changes nothing
    done = client.post(url, data={"target_mrn": keep.mrn, "confirm": "y", "csrf_token": client.csrf_token})
    assert done.status_code == 302
    db.session.expire_all()
    dup, child = db.session.get(Patient, dup.id), db.session.get(Patient, child.id)
    assert dup.status == "merged" and dup.merged_into_id == keep.id and dup.merged_on is not None
    assert child.guarantor_patient_id == keep.id
    # The chart of the merged record follows the link to the survivor.
    resp = client.get(f"/patients/{dup.id}/chart")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/patients/{keep.id}/chart")
    chart = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert dup.mrn in chart  # listed under "Merged records"


def test_merge_refuses_nonsense(app):
    a, b = PatientFactory(), PatientFactory()
    with pytest.raises(patient_service.MergeError):
        patient_service.merge(db.session, source_id=a.id, target_id=a.id)
    patient_service.merge(db.session, source_id=a.id, target_id=b.id)
    with pytest.raises(patient_service.MergeError):
        patient_service.merge(db.session, source_id=b.id, target_id=a.id)


def test_patients_are_never_deleted_through_the_app(client, login_as):
    login_as("Admin")
    patient = PatientFactory()
    client.post(f"/patientlistview/delete/{patient.id}", data={"csrf_token": client.csrf_token})
    client.get(f"/patientlistview/delete/{patient.id}")
    assert db.session.get(Patient, patient.id) is not None


def test_front_desk_cannot_merge_and_billing_cannot_edit(client, login_as, auth):
    patient = PatientFactory()
    login_as("FrontDesk")
    assert client.get(f"/patients/{patient.id}/merge").status_code == 403
    auth.logout()
    login_as("Billing")
    assert client.get(f"/patients/{patient.id}/chart").status_code == 200
    assert client.get(f"/patients/{patient.id}/edit").status_code == 403
    assert client.get("/patients/register").status_code == 403


def test_primary_provider_must_be_active(client, login_as):
    login_as("FrontDesk")
    inactive = ProviderFactory(active=False)
    resp = post_form(client, "/patients/register", primary_provider_id=str(inactive.id))
    assert "Choose an active provider" in resp.get_data(as_text=True)
    assert count_patients() == 0

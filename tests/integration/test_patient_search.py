"""One-box patient search: what the front desk types, and what must never happen."""
from datetime import date

import pytest

from app.extensions import db
from app.services import patient_search
from app.services import patients as patient_service
from tests.factories import PatientFactory


@pytest.fixture
def people():
    return {
        "jose": PatientFactory(family_name="García López", given_name="José", birth_date=date(1980, 3, 4), phone_mobile="+12127361234"),
        "josefa": PatientFactory(family_name="Garcia", given_name="Josefa", birth_date=date(1975, 6, 1)),
        "an": PatientFactory(family_name="Nguyễn", given_name="Văn An", birth_date=date(1990, 12, 31)),
        "ivan": PatientFactory(family_name="Иванов", given_name="Иван", birth_date=date(1966, 1, 2)),
        "wang": PatientFactory(family_name="王", given_name="伟", birth_date=date(2001, 5, 5), guardian_name=None),
        "other": PatientFactory(family_name="Smith", given_name="Joseph", birth_date=date(1980, 3, 4)),
    }


def names(found):
    return {p.given_name for p in found}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("garcia jose", {"José", "Josefa"}),
        ("jose garcia", {"José", "Josefa"}),
        ("GARCÍA josé", {"José", "Josefa"}),
        ("gar jo", {"José", "Josefa"}),
        ("lopez", {"José"}),
        ("nguyen an", {"Văn An"}),
        ("Nguyễn", {"Văn An"}),
        ("иван", {"Иван"}),
        ("王", {"伟"}),
        ("王伟", {"伟"}),  # a Chinese name as it is written: family then given, no space
        ("jos", {"José", "Josefa", "Joseph"}),
        ("garcia 3/4/1980", {"José"}),
        ("3/4/1980", {"José", "Joseph"}),
        ("1980-03-04", {"José", "Joseph"}),
        ("(212) 736-1234", {"José"}),
        ("+1 212 736 1234", {"José"}),
        ("2127361234", {"José"}),
        ("zzz", set()),
        ("", set()),
    ],
)
def test_search_understands_names_dates_and_phones(people, query, expected):
    found, more = patient_search.search(db.session, query, locale="en")
    assert names(found) == expected
    assert more is False


def test_search_by_mrn(people):
    found, _ = patient_search.search(db.session, people["ivan"].mrn)
    assert [p.id for p in found] == [people["ivan"].id]


def test_birth_date_in_the_users_locale(people):
    found, _ = patient_search.search(db.session, "31/12/1990", locale="fr")
    assert names(found) == {"Văn An"}
    found, _ = patient_search.search(db.session, "31.12.1990", locale="ru")
    assert names(found) == {"Văn An"}


def test_more_results_are_flagged_not_counted(app):
    for i in range(7):
        PatientFactory(family_name=f"Martinez{i}", given_name="Ana")
    found, more = patient_search.search(db.session, "mart", limit=5)
    assert len(found) == 5 and more is True


def test_merged_patients_show_where_they_went(people):
    patient_service.merge(db.session, source_id=people["josefa"].id, target_id=people["jose"].id)
    found, _ = patient_search.search(db.session, "josefa")
    assert found[0].merged_into_id == people["jose"].id


def test_search_endpoint_takes_the_query_in_the_body_only(client, login_as, people):
    login_as("FrontDesk")
    resp = client.post("/patients/search", json={"q": "garcia jose"}, headers={"X-CSRFToken": client.csrf_token})
    assert resp.status_code == 200
    data = resp.get_json()
    assert {r["mrn"] for r in data["results"]} == {people["jose"].mrn, people["josefa"].mrn}
    row = next(r for r in data["results"] if r["mrn"] == people["jose"].mrn)
    assert row["name"] == "García López, José" and row["birth_date"] == "Mar 4, 1980"
    assert row["url"] == f"/patients/{people['jose'].id}/chart"
    # The query string is never read: GET is refused and ?q= finds nothing.
    assert client.get("/patients/search?q=garcia").status_code == 405
    resp = client.post("/patients/search?q=garcia", json={}, headers={"X-CSRFToken": client.csrf_token})
    assert resp.get_json()["results"] == []


def test_search_endpoint_requires_csrf_and_login(client, login_as, auth, people):
    assert client.post("/patients/search", json={"q": "garcia"}).status_code in (302, 400, 401)
    login_as("FrontDesk")
    assert client.post("/patients/search", json={"q": "garcia"}).status_code == 400
    auth.logout()
    login_as("Auditor")
    assert client.post("/patients/search", json={"q": "garcia"}, headers={"X-CSRFToken": client.csrf_token}).status_code == 403


def test_misspelled_names_find_similar_patients_on_postgresql(client, login_as, people):
    login_as("FrontDesk")
    resp = client.post("/patients/search", json={"q": "garsia lopes"}, headers={"X-CSRFToken": client.csrf_token})
    data = resp.get_json()
    if db.engine.dialect.name != "postgresql":
        assert data["results"] == [] and data["similar"] is False  # trigram search is PostgreSQL-only
        return
    assert data["similar"] is True
    assert data["results"][0]["mrn"] == people["jose"].mrn
    # An exact prefix match never falls back to similar names.
    data = client.post("/patients/search", json={"q": "garcia"}, headers={"X-CSRFToken": client.csrf_token}).get_json()
    assert data["similar"] is False

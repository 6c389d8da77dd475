"""Providers: NPI check, the login account, and a clinician's own patient list."""
from app.extensions import db
from app.models import Provider
from tests.factories import PatientFactory, ProviderFactory


def add_provider(client, **changes):
    data = {"given_name": "Ana", "family_name": "Ruiz", "credentials": "MD", "npi": "1234567893",
            "specialty": "Family medicine", "active": "y", "csrf_token": client.csrf_token}
    data.update(changes)
    return client.post("/providerview/add", data=data)


def test_office_manager_adds_provider_with_valid_npi(client, login_as):
    login_as("OfficeManager")
    assert add_provider(client).status_code == 302
    assert db.session.query(Provider).one().npi == "1234567893"


def test_invalid_npi_is_refused_with_a_clear_message(client, login_as):
    login_as("OfficeManager")
    resp = add_provider(client, npi="1234567890")
    assert resp.status_code == 200
    assert "Not a valid NPI" in resp.get_data(as_text=True)
    assert db.session.query(Provider).count() == 0


def test_front_desk_reads_but_cannot_add_providers(client, login_as):
    login_as("FrontDesk")
    assert client.get("/providerview/list/").status_code == 200
    assert add_provider(client).status_code == 403
    assert db.session.query(Provider).count() == 0


def test_my_patients_lists_only_the_clinicians_own_panel(client, login_as):
    user = login_as("Clinician")
    mine = ProviderFactory(user_id=user.id)
    other = ProviderFactory()
    PatientFactory(family_name="Mineone", primary_provider_id=mine.id)
    PatientFactory(family_name="Notmine", primary_provider_id=other.id)
    html = client.get("/mypatientsview/list/").get_data(as_text=True)
    assert "Mineone" in html and "Notmine" not in html

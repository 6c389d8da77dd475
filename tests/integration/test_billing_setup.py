"""Billing settings, service facilities and payers: checked by app/services/billing_setup.py,
bad input refused with a clear message and nothing written; only Billing and OfficeManager."""
import html
from datetime import date

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.billing import BillingSettings, Coverage, Payer, ServiceFacility
from app.services import billing_setup
from app.services.errors import ValidationFailed
from tests.factories import PatientFactory

VALID_NPI = "1234567893"


def text(resp):
    return html.unescape(resp.get_data(as_text=True))


def settings_form(client, **kw):
    data = {name: "" for name in billing_setup.SETTINGS_FIELDS}
    data.update(csrf_token=client.csrf_token, billing_name="Riverside Family Practice", group_npi=VALID_NPI,
                tax_id="12-3456789", taxonomy_code="207q00000x", address_line1="1 Main St", city="Boston",
                state="ma", postal_code="02139-4307", isa_sender_qualifier="ZZ", isa_sender_id="RIVERSIDE01",
                isa_receiver_qualifier="ZZ", isa_receiver_id="CLEARHOUSE", usage_indicator="T",
                submitter_id="SUB123", receiver_id="RCV456")
    data.update(kw)
    return data


def rows(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_billing_staff_save_the_settings_normalised(client, login_as):
    login_as("Billing")
    page = client.get("/billing/settings/")
    assert page.status_code == 200 and "Billing provider (837P loop 2010AA" in text(page)
    resp = client.post("/billing/settings/", data=settings_form(client))
    assert resp.status_code == 302
    settings = db.session.get(BillingSettings, 1)
    assert (settings.tax_id, settings.postal_code, settings.state, settings.taxonomy_code) == (
        "123456789", "021394307", "MA", "207Q00000X")
    assert (settings.group_npi, settings.isa_sender_id, settings.usage_indicator) == (VALID_NPI, "RIVERSIDE01", "T")
    # the form shows what is stored, and a second save updates the one row
    assert 'value="Riverside Family Practice"' in text(client.get("/billing/settings/"))
    resp = client.post("/billing/settings/", data=settings_form(client, version=str(settings.version),
                                                                usage_indicator="P"))
    assert resp.status_code == 302
    db.session.expire_all()
    assert rows(BillingSettings) == 1 and db.session.get(BillingSettings, 1).usage_indicator == "P"


def test_bad_settings_are_all_named_and_nothing_is_written(client, login_as):
    login_as("OfficeManager")
    resp = client.post("/billing/settings/", data=settings_form(
        client, group_npi="1234567890", tax_id="12-34567AB", taxonomy_code="207Q0000", postal_code="02139",
        state="Mass", isa_sender_id="X" * 16, usage_indicator="Q"))
    page = text(resp)
    assert resp.status_code == 200
    assert "Not a valid NPI: 10 digits with a correct check digit." in page
    assert "The tax id (EIN) has 9 digits" in page
    assert "A taxonomy code has 10 characters" in page
    assert "The billing address needs the full ZIP+4" in page
    assert "The state is its 2-letter code" in page
    assert "An interchange id has at most 15 characters." in page
    assert "Choose test or production." in page
    assert rows(BillingSettings) == 0


def test_a_pay_to_address_needs_its_city_state_and_zip():
    with pytest.raises(ValidationFailed) as exc:
        billing_setup.save_settings(db.session, dict(
            billing_name="X", group_npi=VALID_NPI, tax_id="123456789", address_line1="1 Main", city="Boston",
            state="MA", postal_code="021394307", usage_indicator="T", pay_to_line1="PO Box 9"))
    assert [f for f, _ in exc.value.problems] == ["pay_to_line1"]
    assert rows(BillingSettings) == 0


def payer_form(client, **kw):
    data = {"csrf_token": client.csrf_token, "name": "Acme Health", "payer_code": "ACME1",
            "claim_filing_indicator": "CI", "timely_filing_days": "90", "address_line1": "PO Box 1", "city": "Hartford",
            "state": "ct", "postal_code": "06101-1234", "phone": "", "address_line2": "", "active": "y"}
    data.update(kw)
    return data


def test_payers_are_added_with_a_readable_claim_filing_indicator_and_timely_filing_in_range(client, login_as):
    login_as("Billing")
    page = text(client.get("/payerview/add"))
    assert "MB — Medicare Part B" in page and "MC — Medicaid" in page
    for days in ("0", "731"):
        resp = client.post("/payerview/add", data=payer_form(client, timely_filing_days=days))
        assert resp.status_code == 200
        assert "Timely filing is 1 to 730 days." in text(resp)
    assert rows(Payer) == 0
    resp = client.post("/payerview/add", data=payer_form(client, timely_filing_days="365"))
    assert resp.status_code == 302
    payer = db.session.scalars(select(Payer)).one()
    assert (payer.timely_filing_days, payer.state, payer.postal_code) == (365, "CT", "061011234")
    assert "CI — Commercial insurance" in text(client.get("/payerview/list/"))


def test_a_payer_with_coverages_is_not_deleted(client, login_as):
    payer = Payer(name="Acme Health", payer_code="ACME1", claim_filing_indicator="CI", timely_filing_days=90)
    db.session.add(payer)
    db.session.commit()
    from app.services import coverage as coverage_service

    coverage_service.add_coverage(db.session, PatientFactory(), payer=payer, priority=1, member_id="M1",
                                  effective_date=date(2026, 1, 1))
    login_as("OfficeManager")
    resp = client.post(f"/payerview/delete/{payer.id}", data={"csrf_token": client.csrf_token}, follow_redirects=True)
    assert "make it inactive instead" in text(resp)
    assert rows(Payer) == 1 and rows(Coverage) == 1


def test_service_facilities_check_npi_zip_and_place_of_service(client, login_as):
    login_as("Billing")
    data = {"csrf_token": client.csrf_token, "name": "Main street office", "npi": "1234567890",
            "address_line1": "1 Main St", "address_line2": "", "city": "Boston", "state": "MA", "postal_code": "0213",
            "place_of_service": "1", "location": "", "active": "y"}
    resp = client.post("/servicefacilityview/add", data=data)
    page = text(resp)
    assert "Not a valid NPI" in page and "5 or 9 digits" in page and "2-digit code" in page
    assert rows(ServiceFacility) == 0
    resp = client.post("/servicefacilityview/add", data=dict(data, npi=VALID_NPI, postal_code="02139",
                                                              place_of_service="11"))
    assert resp.status_code == 302
    assert db.session.scalars(select(ServiceFacility)).one().postal_code == "02139"


@pytest.mark.parametrize("role", ["FrontDesk", "Clinician"])
def test_only_billing_and_the_office_manager_reach_billing_setup(client, login_as, role):
    login_as(role)
    assert client.get("/billing/settings/").status_code == 403
    assert client.post("/billing/settings/", data=settings_form(client)).status_code == 403
    assert client.get("/payerview/list/").status_code == 403
    assert rows(BillingSettings) == 0


def test_the_billing_menu_lists_the_setup_screens(client, login_as):
    login_as("Billing")
    page = text(client.get("/billing/settings/"))
    for label in ("Billing settings", "Service facilities", "Payers"):
        assert label in page

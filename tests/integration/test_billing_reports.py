"""Reports and home cards of insurance and charges: copays by day, eligibility verification,
charges by provider and month; the "Insurance to verify" and encounter cards."""
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db
from app.models.billing import ChargeLine, Encounter, Payer
from app.services import copays, eligibility, scheduling
from app.services import coverage as coverage_service
from tests.factories import PatientFactory, ProviderFactory
from tests.integration.test_reports import _cards, pdf_text, post_report
from tests.integration.test_schedule_reports import csv_rows
from tests.scheduling_setup import make_clinic, utc

NY = ZoneInfo("America/New_York")
PAST = utc(2026, 1, 1)


def pay(amount, method, at, voided=False):
    payment = copays.record_copay(db.session, patient=PatientFactory(), amount=Decimal(amount), method=method,
                                  actor=None, now=at)
    if voided:
        copays.void_copay(db.session, payment, reason="Entered twice.", actor=None)
    return payment


def card(body, key):
    return body.split(f'id="card-{key}"')[1].split("</section>")[0]


# --------------------------------------------------------------------------- copays collected

@pytest.fixture
def receipts(app):
    pay("20.00", "cash", utc(2026, 3, 1, 15))  # 10 am on March 1 in New York
    pay("15.00", "cash", utc(2026, 3, 2, 3, 30))  # 10:30 pm on March 1 in New York, the 2nd in UTC
    pay("30.00", "card", utc(2026, 3, 1, 16), voided=True)
    pay("25.00", "card", utc(2026, 3, 1, 17))
    pay("40.00", "check", utc(2026, 3, 2, 5, 30))  # 00:30 on March 2 in New York
    pay("50.00", "cash", utc(2026, 3, 1, 4, 30))  # 11:30 pm on February 28 in New York: before the period
    pay("99.00", "cash", utc(2026, 3, 3, 15))  # after the period


def test_copays_are_added_up_per_local_day_and_method_without_the_voided(client, login_as, receipts, tmp_path):
    login_as("FrontDesk")
    fields = {"period_from": "3/1/2026", "period_to": "3/2/2026", "method": "all"}
    rows = csv_rows(post_report(client, "copays_by_day", "csv", **fields))  # codes, ISO dates
    assert rows[0] == ["Day", "Payment method", "Receipts", "Amount", "Voided receipts"]
    assert rows[1:] == [
        ["2026-03-01", "cash", "2", "35.00", "0"],
        ["2026-03-01", "card", "1", "25.00", "1"],
        ["2026-03-02", "check", "1", "40.00", "0"],
        ["Total", "", "4", "100.00", "1"],
    ]
    table = post_report(client, "copays_by_day", **fields).get_data(as_text=True).split('id="report-table"')[1]
    assert "Cash" in table and "Card" in table and "$35.00" in table
    card_only = csv_rows(post_report(client, "copays_by_day", "csv", **{**fields, "method": "card"}))
    assert card_only[1:] == [["2026-03-01", "card", "1", "25.00", "1"], ["Total", "", "1", "25.00", "1"]]

    pdf = post_report(client, "copays_by_day", "pdf", **fields)
    text = pdf_text(pdf.data, tmp_path)
    assert "Copays collected" in text and "Payment method" in text and "Voided receipts" in text
    assert "$100.00" in text


def test_copays_default_to_today(client, login_as, app):
    pay("12.00", "cash", dt.datetime.now(dt.timezone.utc))
    login_as("Billing")
    rows = csv_rows(post_report(client, "copays_by_day", "csv", defaults="1"))
    assert rows[1][1:4] == ["cash", "1", "12.00"]


def test_an_unknown_method_is_refused(client, login_as, receipts):
    login_as("OfficeManager")
    resp = post_report(client, "copays_by_day", period_from="3/1/2026", period_to="3/2/2026", method="bitcoin")
    body = resp.get_data(as_text=True)
    assert "Not a valid choice." in body and 'id="report-result"' not in body


# --------------------------------------------------------------------------- eligibility verification

DAY = dt.date(2027, 3, 1)  # a Monday


@pytest.fixture
def insured(app):
    c = make_clinic(weekdays=range(7))
    c.payer = Payer(name="Acme Health", payer_code="ACME01")
    c.other_payer = Payer(name="Blue Harbor", payer_code="BLUE01")
    db.session.add_all([c.payer, c.other_payer])
    db.session.commit()
    c.checked = PatientFactory(family_name="Checked", given_name="Carla")
    c.unchecked = PatientFactory(family_name="Unchecked", given_name="Umar")
    c.cash = PatientFactory(family_name="Cash", given_name="Carl")
    c.uninsured = PatientFactory(family_name="Nobody", given_name="Nina")
    c.cov = coverage_service.add_coverage(db.session, c.checked, payer=c.payer, member_id="MEM-1",
                                          effective_date=dt.date(2026, 1, 1))
    # Secondary Acme, primary Blue Harbor: the row names the primary.
    coverage_service.add_coverage(db.session, c.unchecked, payer=c.payer, member_id="MEM-2", priority=2,
                                  effective_date=dt.date(2026, 1, 1))
    coverage_service.add_coverage(db.session, c.unchecked, payer=c.other_payer, member_id="MEM-3",
                                  effective_date=dt.date(2026, 1, 1))
    coverage_service.add_coverage(db.session, c.cash, self_pay=True, effective_date=dt.date(2026, 1, 1))

    def book(patient, start_local):
        return scheduling.book(db.session, patient=patient, provider=c.provider, location=c.location, type=c.type,
                               start_local=start_local, now=PAST)

    c.book = book
    book(c.checked, dt.datetime.combine(DAY, dt.time(9)))
    book(c.unchecked, dt.datetime.combine(DAY, dt.time(10)))
    book(c.cash, dt.datetime.combine(DAY, dt.time(11)))
    book(c.uninsured, dt.datetime.combine(DAY, dt.time(12)))
    gone = book(c.unchecked, dt.datetime.combine(DAY, dt.time(14)))
    scheduling.cancel(db.session, gone, reason="The patient called.")
    book(c.checked, dt.datetime.combine(DAY + dt.timedelta(days=3), dt.time(9)))  # after the period
    eligibility.record_check(db.session, coverage=c.cov, service_date=DAY, method="phone", result="error")
    eligibility.record_check(db.session, coverage=c.cov, service_date=DAY, method="portal", result="active")
    return c


def test_eligibility_lists_insured_appointments_with_the_latest_check(client, login_as, insured, tmp_path):
    login_as("FrontDesk")
    fields = {"period_from": "3/1/2027", "period_to": "3/3/2027"}
    rows = csv_rows(post_report(client, "eligibility_verification", "csv", **fields))
    assert rows[0][:7] == ["Day", "Time", "Patient", "MRN", "Location", "Payer", "Eligibility"]
    assert [r[:3] + r[4:7] for r in rows[1:-1]] == [
        ["2027-03-01", "09:00", "Checked, Carla", "Main street", "Acme Health", "active"],
        ["2027-03-01", "10:00", "Unchecked, Umar", "Main street", "Blue Harbor", "not_checked"],
    ]
    assert rows[1][3] == insured.checked.mrn and rows[1][7] and rows[2][7] == ""

    page = post_report(client, "eligibility_verification", **fields).get_data(as_text=True)
    table = page.split('id="report-table"')[1]
    with client.application.test_request_context():
        from flask import url_for

        chart = url_for("PatientDeskView.chart", pk=insured.unchecked.id)
    assert f'<a href="{chart}">Unchecked, Umar</a>' in table
    assert "not checked" in table and "Cash" not in table and "Nobody" not in table
    text = pdf_text(post_report(client, "eligibility_verification", "pdf", **fields).data, tmp_path)
    assert "Eligibility verification" in text and "Payer" in text and "not checked" in text

    # A check for another day does not count for this one; one for the day does.
    eligibility.record_check(db.session, coverage=coverage_service.active_coverages(
        db.session, insured.unchecked.id, DAY)[0], service_date=DAY + dt.timedelta(days=1), method="phone",
        result="active")
    rows = csv_rows(post_report(client, "eligibility_verification", "csv", **fields))
    assert rows[2][6] == "not_checked"
    eligibility.record_check(db.session, coverage=coverage_service.active_coverages(
        db.session, insured.unchecked.id, DAY)[0], service_date=DAY, method="phone", result="inactive")
    rows = csv_rows(post_report(client, "eligibility_verification", "csv", **fields))
    assert rows[2][6] == "inactive"


def test_running_the_eligibility_report_is_audited(client, login_as, insured):
    from tests.integration.test_reports import report_events

    login_as("Billing")
    post_report(client, "eligibility_verification", period_from="3/1/2027", period_to="3/3/2027")
    events = report_events()
    assert len(events) == 1


@pytest.mark.parametrize("name", ["copays_by_day", "eligibility_verification"])
def test_clinicians_cannot_run_the_front_desk_money_reports(client, login_as, name):
    login_as("Clinician")
    assert post_report(client, name, "csv", defaults="1").status_code == 403


@pytest.mark.parametrize("role", ["FrontDesk", "Clinician"])
def test_charges_are_for_billing_and_the_office_manager_only(client, login_as, role):
    login_as(role)
    assert post_report(client, "charges_by_provider", "csv", defaults="1").status_code == 403


# --------------------------------------------------------------------------- charges by provider and month

def encounter(provider, patient, day, status, lines=()):
    enc = Encounter(patient_id=patient.id, provider_id=provider.id, service_date=day, status=status,
                    place_of_service="11")
    db.session.add(enc)
    db.session.flush()
    for number, (code, units, fee) in enumerate(lines, start=1):
        db.session.add(ChargeLine(encounter_id=enc.id, line_number=number, code=code, code_kind="CPT",
                                  units=Decimal(units), fee=Decimal(fee), place_of_service="11",
                                  rendering_provider_id=provider.id, pointer1=1))
    db.session.commit()
    return enc


def test_charges_add_up_ready_and_billed_encounters_per_provider_and_month(client, login_as, app, tmp_path):
    alvarez = ProviderFactory(family_name="Alvarez", given_name="Rosa")
    boateng = ProviderFactory(family_name="Boateng", given_name="Kofi")
    patient = PatientFactory()
    encounter(alvarez, patient, dt.date(2026, 3, 2), "ready", [("99213", "1", "120.00"), ("36415", "2", "10.50")])
    encounter(alvarez, patient, dt.date(2026, 3, 31), "billed", [("99214", "1", "180.00")])
    encounter(alvarez, patient, dt.date(2026, 3, 5), "open", [("99215", "1", "250.00")])  # not counted
    encounter(alvarez, patient, dt.date(2026, 4, 1), "ready", [("99213", "1", "120.00")])
    encounter(boateng, patient, dt.date(2026, 3, 10), "billed", [("99213", "1.5", "100.00")])
    encounter(boateng, patient, dt.date(2026, 5, 1), "billed", [("99213", "1", "100.00")])  # after the period
    login_as("Billing")
    fields = {"period_from": "3/1/2026", "period_to": "4/30/2026"}
    rows = csv_rows(post_report(client, "charges_by_provider", "csv", **fields))
    assert rows[0] == ["Provider", "Month", "Encounters", "Charge lines", "Units", "Charges"]
    assert rows[1:] == [
        ["Alvarez, Rosa", "2026-03-01", "2", "3", "4", "321.00"],
        ["Alvarez, Rosa", "2026-04-01", "1", "1", "1", "120.00"],
        ["Boateng, Kofi", "2026-03-01", "1", "1", "1.5", "150.00"],
        ["Total", "", "4", "5", "6.5", "591.00"],
    ]
    one = csv_rows(post_report(client, "charges_by_provider", "csv", provider=str(boateng.id), **fields))
    assert one[1:-1] == [["Boateng, Kofi", "2026-03-01", "1", "1", "1.5", "150.00"]]
    text = pdf_text(post_report(client, "charges_by_provider", "pdf", **fields).data, tmp_path)
    assert "Charges by provider and month" in text and "Charge lines" in text and "$591.00" in text


# --------------------------------------------------------------------------- home cards

@pytest.fixture
def today_clinic(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULING_ALLOW_PAST", True)
    c = make_clinic(weekdays=range(7))
    c.payer = Payer(name="Acme Health", payer_code="ACME01")
    db.session.add(c.payer)
    db.session.commit()
    c.today = dt.datetime.now(NY).date()
    c.insured = [PatientFactory(family_name=f"Insured{i}") for i in range(2)]
    c.coverages = [coverage_service.add_coverage(db.session, p, payer=c.payer, member_id=f"MEM-{i}",
                                                 effective_date=dt.date(2026, 1, 1))
                   for i, p in enumerate(c.insured)]
    cash = PatientFactory(family_name="Cash")
    coverage_service.add_coverage(db.session, cash, self_pay=True, effective_date=dt.date(2026, 1, 1))
    for hour, patient in ((9, c.insured[0]), (10, c.insured[1]), (11, cash)):
        scheduling.book(db.session, patient=patient, provider=c.provider, location=c.location, type=c.type,
                        start_local=dt.datetime.combine(c.today, dt.time(hour)))
    return c


def test_insurance_to_verify_counts_todays_unchecked_insured_appointments(client, login_as, today_clinic):
    c = today_clinic
    login_as("FrontDesk")
    body, cards = _cards(client)
    assert "insurance_to_verify" in cards and "Insurance to verify" in body
    verify = card(body, "insurance_to_verify")
    assert '<bdi dir="ltr">2</bdi>' in verify and "/eligibility/" in verify

    eligibility.record_check(db.session, coverage=c.coverages[0], service_date=c.today, method="phone",
                             result="active")
    verify = card(client.get("/").get_data(as_text=True), "insurance_to_verify")
    assert '<bdi dir="ltr">1</bdi>' in verify

    eligibility.record_check(db.session, coverage=c.coverages[1], service_date=c.today, method="portal",
                             result="inactive")
    _, cards = _cards(client)
    assert "insurance_to_verify" not in cards  # nothing left to do


def test_a_clinician_has_no_insurance_card(client, login_as, today_clinic):
    login_as("Clinician")
    _, cards = _cards(client)
    assert "insurance_to_verify" not in cards


def test_billing_sees_encounters_ready_and_a_clinician_their_own_open_ones(client, login_as, app):
    mine = ProviderFactory(family_name="Mine")
    other = ProviderFactory(family_name="Other")
    patient = PatientFactory()
    day = dt.date(2026, 11, 2)
    for provider, status in ((mine, "ready"), (other, "ready"), (mine, "open"), (other, "open"), (other, "open"),
                             (mine, "billed")):
        encounter(provider, patient, day, status)

    login_as("Billing")
    body, cards = _cards(client)
    assert "encounters_ready" in cards and "my_open_encounters" not in cards
    ready = card(body, "encounters_ready")
    assert '<bdi dir="ltr">2</bdi>' in ready and "/encounters/?status=ready" in ready
    client.get("/logout/")

    user = login_as("Clinician")
    mine.user_id = user.id
    db.session.commit()
    body, cards = _cards(client)
    assert "my_open_encounters" in cards and "encounters_ready" not in cards and "My open encounters" in body
    own = card(body, "my_open_encounters")
    assert '<bdi dir="ltr">1</bdi>' in own and "/encounters/?status=open" in own
    client.get("/logout/")

    login_as("FrontDesk")  # no charges on the front desk's home
    _, cards = _cards(client)
    assert not {"encounters_ready", "my_open_encounters"} & cards

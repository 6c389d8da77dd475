"""Claim reports through the runner: AR aging by payer and by patient, claims by status, denial rate by payer and
by reason; each figure checked against claims and postings made here; bad input and roles."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services import posting
from tests.factories import PatientFactory, ProviderFactory
from tests.integration.test_reports import pdf_text, post_report
from tests.integration.test_schedule_reports import csv_rows
from tests.integration.test_statements import TODAY, claim, encounter, insured, payer, post

T = TODAY


def ago(days):
    return T - dt.timedelta(days=days)


def noon(day):
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc)


@pytest.fixture
def book(app):
    """Acme: c1 submitted 100 (10 days), c2 paid 100 (45 days: paid 60, CO-45 10, PR-1 30), c3 denied 120 (100 days,
    CO-50), c4 accepted 250 (130 days), c9 denied 60 (20 days, CO-29 + CO-45).
    Blue: c5 submitted 80 (31 days), c6 accepted 40 (61 days), a void 500 and its draft 500 (50 days), c10 paid 30
    (70 days, decided 60 days ago), c11 paid 25 (15 days); Ben paid 5 on account. Carla: a self-pay visit of 70
    (95 days)."""
    b = type("Book", (), {})()
    provider = ProviderFactory()
    b.acme, b.blue = payer("Acme Health", "ACME01"), payer("Blue Harbor", "BLUE01")
    b.ana = PatientFactory(family_name="Alves", given_name="Ana", preferred_name=None)
    b.ben = PatientFactory(family_name="Brown", given_name="Ben", preferred_name=None)
    b.carla = PatientFactory(family_name="Cruz", given_name="Carla", preferred_name=None)
    acme, blue = insured(b.ana, b.acme), insured(b.ben, b.blue)

    def add(patient, coverage, days, fee, status, decided=None):
        return claim(encounter(patient, provider, ago(days), fee), coverage, status,
                     adjudicated_at=noon(ago(decided)) if decided is not None else None)

    add(b.ana, acme, 10, "100.00", "submitted")
    c2 = add(b.ana, acme, 45, "100.00", "paid", decided=5)
    post(c2, paid="60.00", adjustments=[("CO", "45", "10.00"), ("PR", "1", "30.00")])
    c3 = add(b.ana, acme, 100, "120.00", "denied", decided=3)
    post(c3, paid="0.00", adjustments=[("CO", "50", "120.00")], status_code="4")
    add(b.ana, acme, 130, "250.00", "accepted")
    c9 = add(b.ana, acme, 20, "60.00", "denied", decided=2)
    post(c9, paid="0.00", adjustments=[("CO", "29", "50.00"), ("CO", "45", "10.00")], status_code="4")
    add(b.ben, blue, 31, "80.00", "submitted")
    add(b.ben, blue, 61, "40.00", "accepted")
    visit = encounter(b.ben, provider, ago(50), "500.00")
    claim(visit, blue, "void")
    claim(visit, blue, "draft")
    c10 = add(b.ben, blue, 70, "30.00", "paid", decided=60)
    post(c10, paid="30.00")
    c11 = add(b.ben, blue, 15, "25.00", "paid", decided=1)
    post(c11, paid="25.00")
    encounter(b.carla, provider, ago(95), "70.00", status="ready")
    posting.post_patient_payment(db.session, b.ben, amount=Decimal("5.00"), method="cash", actor=None)  # a credit
    return b


# --------------------------------------------------------------------------- AR aging by payer

def test_ar_aging_by_payer(client, login_as, book, tmp_path):
    login_as("Billing")
    rows = csv_rows(post_report(client, "ar_aging_by_payer", "csv", as_of="11/27/2026"))
    assert rows[0] == ["Payer", "Claims", "0–30 days", "31–60 days", "61–90 days", "91–120 days",
                       "121 days and more", "Total"]
    assert rows[1:] == [
        ["Acme Health", "2", "100.00", "0.00", "0.00", "0.00", "250.00", "350.00"],
        ["Blue Harbor", "2", "0.00", "80.00", "40.00", "0.00", "0.00", "120.00"],
        ["Total", "4", "100.00", "80.00", "40.00", "0.00", "250.00", "470.00"],
    ]
    # Forty days earlier: the later services are left out, the others are younger.
    rows = csv_rows(post_report(client, "ar_aging_by_payer", "csv", as_of="10/18/2026"))
    assert rows[1:-1] == [
        ["Acme Health", "1", "0.00", "0.00", "250.00", "0.00", "0.00", "250.00"],
        ["Blue Harbor", "1", "40.00", "0.00", "0.00", "0.00", "0.00", "40.00"],
    ]
    text = pdf_text(post_report(client, "ar_aging_by_payer", "pdf", as_of="11/27/2026").data, tmp_path)
    assert "Accounts receivable aging by payer" in text and "$470.00" in text
    page = post_report(client, "ar_aging_by_payer", as_of="11/27/2026").get_data(as_text=True)
    assert "date of service" in page and "$350.00" in page.split('id="report-table"')[1]


# --------------------------------------------------------------------------- AR aging by patient

def test_ar_aging_by_patient_is_audited(client, login_as, book, tmp_path):
    login_as("OfficeManager")
    rows = csv_rows(post_report(client, "ar_aging_by_patient", "csv", as_of="11/27/2026", owing_only="y"))
    assert rows[0][:3] == ["Patient", "MRN", "Visits with a balance"]
    assert rows[1:-1] == [
        ["Alves, Ana", book.ana.mrn, "1", "0.00", "30.00", "0.00", "0.00", "0.00", "30.00"],
        ["Cruz, Carla", book.carla.mrn, "1", "0.00", "0.00", "0.00", "70.00", "0.00", "70.00"],
    ]
    assert rows[-1][3:] == ["0.00", "30.00", "0.00", "70.00", "0.00", "100.00"]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report",
                                                         AuditEvent.object_id == "ar_aging_by_patient")).all()
    assert len(events) == 1 and '"rows":2' in events[0].details
    # Credit balances too: Ben paid 5.00 on account and owes nothing.
    rows = csv_rows(post_report(client, "ar_aging_by_patient", "csv", as_of="11/27/2026", owing_only=""))
    assert [r[0] for r in rows[1:-1]] == ["Alves, Ana", "Brown, Ben", "Cruz, Carla"]
    assert rows[2][3:] == ["'-5.00", "0.00", "0.00", "0.00", "0.00", "'-5.00"]  # formulas neutralised
    text = pdf_text(post_report(client, "ar_aging_by_patient", "pdf", as_of="11/27/2026", owing_only="y").data,
                    tmp_path)
    assert "Alves, Ana" in text and "$100.00" in text


# --------------------------------------------------------------------------- claims by status

def test_claims_by_status_counts_and_adds_up_per_payer(client, login_as, book, tmp_path):
    login_as("Billing")
    rows = csv_rows(post_report(client, "claims_by_status", "csv", period_from="5/11/2026", period_to="11/27/2026",
                                status="all"))
    assert rows[0] == ["Payer", "Status", "Claims", "Charges"]
    assert rows[1:] == [
        ["Acme Health", "submitted", "1", "100.00"],
        ["Acme Health", "accepted", "1", "250.00"],
        ["Acme Health", "paid", "1", "100.00"],
        ["Acme Health", "denied", "2", "180.00"],
        ["Blue Harbor", "draft", "1", "500.00"],
        ["Blue Harbor", "submitted", "1", "80.00"],
        ["Blue Harbor", "accepted", "1", "40.00"],
        ["Blue Harbor", "paid", "2", "55.00"],
        ["Blue Harbor", "void", "1", "500.00"],
        ["Total", "", "11", "1805.00"],
    ]
    rows = csv_rows(post_report(client, "claims_by_status", "csv", period_from="9/28/2026", period_to="11/27/2026",
                                status="all"))
    assert rows[1:] == [
        ["Acme Health", "submitted", "1", "100.00"],
        ["Acme Health", "paid", "1", "100.00"],
        ["Acme Health", "denied", "1", "60.00"],
        ["Blue Harbor", "draft", "1", "500.00"],
        ["Blue Harbor", "submitted", "1", "80.00"],
        ["Blue Harbor", "paid", "1", "25.00"],
        ["Blue Harbor", "void", "1", "500.00"],
        ["Total", "", "7", "1365.00"],
    ]
    rows = csv_rows(post_report(client, "claims_by_status", "csv", period_from="5/11/2026", period_to="11/27/2026",
                                status="paid"))
    assert rows[1:] == [["Acme Health", "paid", "1", "100.00"], ["Blue Harbor", "paid", "2", "55.00"],
                        ["Total", "", "3", "155.00"]]
    page = post_report(client, "claims_by_status", period_from="5/11/2026", period_to="11/27/2026", status="all")
    table = page.get_data(as_text=True).split('id="report-table"')[1]
    assert "ready to send" not in table and "submitted" in table and "$1,805.00" in table
    text = pdf_text(post_report(client, "claims_by_status", "pdf", period_from="5/11/2026",
                                period_to="11/27/2026", status="all").data, tmp_path)
    assert "Claims by status" in text and "$1,805.00" in text


# --------------------------------------------------------------------------- denial rate

def test_denial_rate_by_payer_and_by_reason(client, login_as, book, tmp_path):
    login_as("OfficeManager")
    fields = {"period_from": "10/28/2026", "period_to": "11/27/2026"}
    rows = csv_rows(post_report(client, "denial_rate", "csv", by="payer", **fields))
    assert rows[0] == ["Payer", "Reason (CARC)", "Reason", "Adjudicated claims", "Denied claims", "Denial rate"]
    assert rows[1:] == [
        ["Acme Health", "", "", "3", "2", "0.666667"],
        ["Blue Harbor", "", "", "1", "0", "0"],
    ]
    rows = csv_rows(post_report(client, "denial_rate", "csv", by="reason", **fields))
    assert [r[:2] + r[3:] for r in rows[1:]] == [
        ["Acme Health", "29", "3", "1", "0.333333"],  # CO-45 next to the denial is not a reason for it
        ["Acme Health", "50", "3", "1", "0.333333"],
    ]
    assert "time limit for filing has expired" in rows[1][2] and "non-covered" in rows[2][2]
    # The claim decided sixty days ago counts only in a period that holds that day.
    rows = csv_rows(post_report(client, "denial_rate", "csv", by="payer", period_from="9/1/2026",
                                period_to="11/27/2026"))
    assert rows[2] == ["Blue Harbor", "", "", "2", "0", "0"]
    text = pdf_text(post_report(client, "denial_rate", "pdf", by="payer", **fields).data, tmp_path)
    assert "Denial rate" in text and "66.7%" in text


# --------------------------------------------------------------------------- bad input and roles

@pytest.mark.parametrize("name, extra", [("claims_by_status", {"status": "all"}), ("denial_rate", {"by": "payer"})])
def test_an_end_date_before_the_start_is_refused(client, login_as, book, name, extra):
    login_as("Billing")
    resp = post_report(client, name, period_from="11/27/2026", period_to="11/1/2026", **extra)
    body = resp.get_data(as_text=True)
    assert "The end date is before the start date." in body and 'id="report-result"' not in body


def test_a_bad_as_of_date_is_refused(client, login_as, book):
    login_as("Billing")
    body = post_report(client, "ar_aging_by_payer", as_of="31/31/2026").get_data(as_text=True)
    assert "Not a valid date" in body and 'id="report-result"' not in body


@pytest.mark.parametrize("name", ["ar_aging_by_payer", "ar_aging_by_patient", "claims_by_status", "denial_rate"])
@pytest.mark.parametrize("role", ["FrontDesk", "Clinician"])
def test_claim_reports_are_for_billing_and_the_office_manager(client, login_as, name, role):
    login_as(role)
    assert post_report(client, name, "csv", defaults="1").status_code == 403

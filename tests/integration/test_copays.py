"""Copays at the front desk: validation (never a card number), receipts in the patient's language, void, day totals."""
import re
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from babel.numbers import format_currency

from app.extensions import db
from app.models import AuditEvent
from app.models.billing import CopayPayment, Coverage, Payer
from app.services import copays
from app.services.errors import ValidationFailed
from tests.conftest import make_user
from tests.factories import PatientFactory
from tests.integration.test_letters import normalised, pdf_words
from tests.scheduling_setup import book, make_clinic, utc

CARD = "4111 1111 1111 1111"  # a test Visa number: passes the Luhn check
NOON = utc(2026, 11, 27, 17)  # 12:00 in New York


def flat(data, tmp_path):
    return " ".join(pdf_words(data, tmp_path).split())


def collect(client, patient, **fields):
    data = {"amount": "25.00", "method": "cash", "reference": "", "appointment": "", "notes": "",
            "csrf_token": client.csrf_token}
    data.update(fields)
    return client.post(f"/copays/collect/{patient.id}", data=data, headers={"Accept-Language": "en"})


def count():
    return db.session.query(CopayPayment).count()


# --------------------------------------------------------------------------- service rules

@pytest.mark.parametrize("text", [CARD, "4111-1111-1111-1111", "4111111111111111", "ref 378282246310005 ok",
                                  "4111 1111 1111 1111 1228"])
def test_card_numbers_are_recognised(text):
    assert copays.looks_like_card_number(text)


@pytest.mark.parametrize("text", ["083412", "AUTH 083412", "check 1042", "4111 1111 1111 1112", "1234567890123",
                                  "tel 413-555-0100", ""])
def test_approval_codes_and_other_numbers_are_not_card_numbers(text):
    assert not copays.looks_like_card_number(text)


@pytest.mark.parametrize("amount, message", [
    ("0", "The amount must be more than zero."),
    ("-5", "The amount must be more than zero."),
    ("12.345", "Enter the amount with at most two decimals (cents)."),
    ("twenty", "Enter the amount as a number, for example 25.00."),
    ("", "This field is required."),
    ("10000.01", "A copay cannot be more than 10,000."),
])
def test_bad_amounts_are_refused_with_a_message_and_nothing_written(client, login_as, amount, message):
    login_as("FrontDesk")
    patient = PatientFactory()
    resp = collect(client, patient, amount=amount)
    assert resp.status_code == 200
    assert message in resp.get_data(as_text=True)
    assert count() == 0


def test_amount_errors_are_in_the_staff_members_language(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory()
    resp = client.post(f"/copays/collect/{patient.id}?_l_=es", data={
        "amount": "", "method": "cash", "csrf_token": client.csrf_token})
    assert "Este campo es obligatorio." in resp.get_data(as_text=True)
    # The example amount is written the Spanish way (the sentence itself is translated with the catalogs).
    resp = client.post(f"/copays/collect/{patient.id}?_l_=es", data={
        "amount": "veinte", "method": "cash", "csrf_token": client.csrf_token})
    assert "25,00" in resp.get_data(as_text=True)
    # 20,50 is how a Spanish speaker types twenty and a half
    resp = client.post(f"/copays/collect/{patient.id}?_l_=es", data={
        "amount": "20,50", "method": "cash", "csrf_token": client.csrf_token})
    assert resp.status_code == 302
    assert db.session.query(CopayPayment).one().amount == Decimal("20.50")


@pytest.mark.parametrize("field", ["reference", "notes"])
def test_a_card_number_is_refused_in_reference_and_notes(client, login_as, field):
    login_as("FrontDesk")
    patient = PatientFactory()
    resp = collect(client, patient, method="card", **{field: CARD})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Do not type card numbers: write the terminal's approval code instead." in page
    assert CARD not in page  # not even sent back in the field it was typed in
    assert count() == 0


def test_an_approval_code_is_accepted_and_the_receipt_page_shows_it(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory()
    resp = collect(client, patient, amount="25", method="card", reference="AUTH 083412")
    assert resp.status_code == 302
    payment = db.session.query(CopayPayment).one()
    assert (payment.amount, payment.method, payment.reference) == (Decimal("25.00"), "card", "AUTH 083412")
    assert payment.received_by_fk == make_user("FrontDesk").id and not payment.voided
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert payment.receipt_number in page and "AUTH 083412" in page and "$25.00" in page
    # the receipt page (copays/_receipt.html, shared with payments on account) links and forms
    assert f'href="/copays/{payment.id}/receipt"' in page and f'action="/copays/{payment.id}/void"' in page
    assert 'id="copay-void-form"' in page and 'id="copay-amount"' in page and "#chart-payments" in page
    assert "is left out of the day" in page and "/copays/?day=" in page


def test_receipt_numbers_are_unique_and_increasing(app):
    patient = PatientFactory()
    user = make_user("Billing")
    numbers = [copays.record_copay(db.session, patient=patient, amount=Decimal("10"), method="cash", actor=user)
               .receipt_number for _ in range(3)]
    assert len(set(numbers)) == 3
    assert all(re.fullmatch(r"R\d{7}", n) for n in numbers)
    assert [int(n[1:]) for n in numbers] == sorted(int(n[1:]) for n in numbers)
    assert int(numbers[1][1:]) == int(numbers[0][1:]) + 1


def test_a_refused_copay_takes_no_receipt_number(app):
    patient = PatientFactory()
    user = make_user("Billing")
    first = copays.record_copay(db.session, patient=patient, amount=Decimal("10"), method="cash", actor=user)
    with pytest.raises(ValidationFailed):
        copays.record_copay(db.session, patient=patient, amount=Decimal("10"), method="bitcoin", actor=user)
    db.session.rollback()
    second = copays.record_copay(db.session, patient=patient, amount=Decimal("10"), method="cash", actor=user)
    assert int(second.receipt_number[1:]) == int(first.receipt_number[1:]) + 1


def test_every_problem_is_named_at_once(app):
    patient = PatientFactory()
    with pytest.raises(ValidationFailed) as exc:
        copays.record_copay(db.session, patient=patient, amount="0", method="gold", reference=CARD, notes=CARD,
                            actor=make_user("Billing"))
    assert {f for f, _ in exc.value.problems} == {"amount", "method", "reference", "notes"}


def test_merged_and_deceased_patients_are_refused(app):
    user = make_user("Billing")
    survivor = PatientFactory()
    merged = PatientFactory(status="merged", merged_into_id=survivor.id)
    deceased = PatientFactory(status="deceased", deceased_date=date(2026, 1, 2))
    for patient in (merged, deceased):
        with pytest.raises(ValidationFailed):
            copays.record_copay(db.session, patient=patient, amount=Decimal("10"), method="cash", actor=user)
        db.session.rollback()
    assert count() == 0


def test_the_appointment_must_be_the_patients(app):
    clinic = make_clinic(weekdays=range(7), start=time(7), end=time(20))
    visit = book(clinic, datetime(2026, 11, 27, 10), now=utc(2026, 11, 26))
    other = PatientFactory()
    with pytest.raises(ValidationFailed) as exc:
        copays.record_copay(db.session, patient=other, amount=Decimal("10"), method="cash", appointment=visit,
                            actor=make_user("Billing"))
    assert exc.value.for_field("appointment")
    db.session.rollback()
    payment = copays.record_copay(db.session, patient=clinic.patient, amount=Decimal("10"), method="cash",
                                  appointment=visit.id, actor=make_user("Billing"))
    assert payment.appointment_id == visit.id


# --------------------------------------------------------------------------- receipts

@pytest.mark.parametrize("lang, phrases", [
    ("es", ["Recibo de copago", "Número de recibo", "Tarjeta", "Recibido por"]),
    ("ar", ["إيصال دفع المبلغ المشترك", "المريض", "بطاقة مصرفية", "التاريخ والوقت"]),
    ("zh", ["自付费用收据", "收据编号", "银行卡", "收款人"]),
])
def test_receipt_is_in_the_patients_language_with_the_amount_in_their_locale(client, login_as, tmp_path, lang,
                                                                             phrases):
    clinic = make_clinic(weekdays=range(7), start=time(7), end=time(20))
    clinic.patient.preferred_language = lang
    db.session.commit()
    visit = book(clinic, datetime(2026, 11, 27, 10), reason="Depression follow-up", now=utc(2026, 11, 26))
    login_as("FrontDesk")
    payment = copays.record_copay(db.session, patient=clinic.patient, amount=Decimal("1234.50"), method="card",
                                  reference="AUTH 083412", appointment=visit, actor=make_user("FrontDesk"), now=NOON)
    resp = client.get(f"/copays/{payment.id}/receipt")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Content-Disposition"].startswith("inline")
    text = flat(resp.data, tmp_path)
    amount = " ".join(normalised(format_currency(Decimal("1234.50"), "USD", locale=lang)).replace("\u200f", "").split())
    assert amount in text, (amount, text)
    assert payment.receipt_number in text and clinic.patient.mrn in text and "083412" in text
    assert clinic.provider.family_name in text and "Depression" not in text  # never the visit reason
    for phrase in phrases:
        assert normalised(phrase) in text, (lang, phrase)
    assert " $1,234.50" not in f" {text}"  # not the staff member's (English) format
    event = db.session.query(AuditEvent).filter_by(action="print", patient_id=clinic.patient.id).one()
    assert (event.object_type, event.object_id) == ("Receipt", str(payment.id))


def test_void_needs_a_reason_and_the_receipt_then_says_void(client, login_as, tmp_path):
    login_as("Billing")
    patient = PatientFactory(preferred_language="es")
    collect(client, patient, amount="20")
    payment = db.session.query(CopayPayment).one()
    resp = client.post(f"/copays/{payment.id}/void", data={"reason": "  ", "csrf_token": client.csrf_token},
                       follow_redirects=True)
    assert "Say why the receipt is void." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(CopayPayment, payment.id).voided
    assert "ANULADO" not in flat(client.get(f"/copays/{payment.id}/receipt").data, tmp_path)
    resp = client.post(f"/copays/{payment.id}/void", data={"reason": "Entered twice.", "csrf_token": client.csrf_token},
                       follow_redirects=True)
    assert f"Receipt {payment.receipt_number} is now void." in resp.get_data(as_text=True)
    db.session.expire_all()
    payment = db.session.get(CopayPayment, payment.id)
    assert payment.voided and payment.void_reason == "Entered twice."
    text = flat(client.get(f"/copays/{payment.id}/receipt").data, tmp_path)
    assert "ANULADO" in text and "Este recibo fue anulado" in text and payment.receipt_number in text
    assert db.session.query(CopayPayment).count() == 1  # the voided receipt stays on file


# --------------------------------------------------------------------------- who, and the day's totals

@pytest.mark.parametrize("role, allowed", [("FrontDesk", True), ("Billing", True), ("Clinician", False)])
def test_front_desk_and_billing_collect_clinicians_may_not(client, login_as, role, allowed):
    login_as(role)
    patient = PatientFactory()
    assert client.get(f"/copays/collect/{patient.id}").status_code == (200 if allowed else 403)
    resp = collect(client, patient)
    assert resp.status_code == (302 if allowed else 403)
    assert count() == (1 if allowed else 0)
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert ('id="chart-payments"' in chart) == allowed


def test_end_of_day_totals_per_method_leave_void_receipts_out(client, login_as):
    user = login_as("FrontDesk")
    patient = PatientFactory()
    day = date(2026, 11, 27)
    for amount, method, when in [("20", "cash", utc(2026, 11, 27, 14)), ("15.50", "cash", utc(2026, 11, 27, 22)),
                                 ("40", "card", utc(2026, 11, 27, 16)), ("30", "check", utc(2026, 11, 27, 18)),
                                 ("99", "cash", utc(2026, 11, 28, 6))]:  # 01:00 New York the next day
        copays.record_copay(db.session, patient=patient, amount=amount, method=method, actor=user, now=when,
                            reference="AUTH 1" if method == "card" else None)
    voided = copays.record_copay(db.session, patient=patient, amount="50", method="card", actor=user,
                                 now=utc(2026, 11, 27, 17))
    copays.void_copay(db.session, voided, reason="Wrong patient.", actor=user)
    payments, totals, total, live = copays.day_summary(db.session, day, "America/New_York")
    assert totals == {"cash": Decimal("35.50"), "card": Decimal("40.00"), "check": Decimal("30.00"),
                      "other": Decimal("0.00")}
    assert total == Decimal("105.50") and live == 4 and len(payments) == 5
    page = client.get("/copays/?day=2026-11-27", headers={"Accept-Language": "en"}).get_data(as_text=True)
    totals_html = page[page.index('id="copay-totals"'):page.index('id="copay-list"')]
    assert re.search(r'id="copay-total-cash">.*?\$35\.50', totals_html, re.S)
    assert re.search(r'id="copay-total-card">.*?\$40\.00', totals_html, re.S)
    assert re.search(r'id="copay-total-all">.*?\$105\.50', totals_html, re.S)
    assert "$99.00" not in page and voided.receipt_number in page
    assert db.session.query(AuditEvent).filter_by(object_type="CopayList").count() == 1


def test_collect_is_prefilled_with_the_primary_coverage_copay(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory()
    payer = Payer(name="Acme Health", payer_code="ACME1")
    db.session.add(payer)
    db.session.flush()
    db.session.add(Coverage(patient_id=patient.id, priority=1, payer_id=payer.id, member_id="X1234567",
                            effective_date=date(2020, 1, 1), copay=Decimal("35.00")))
    db.session.commit()
    page = client.get(f"/copays/collect/{patient.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'value="35.00"' in page and "$35.00" in page


def test_the_appointment_page_offers_to_collect_the_expected_copay(client, login_as):
    clinic = make_clinic(weekdays=range(7), start=time(7), end=time(20))
    visit = book(clinic, datetime(2026, 11, 27, 10), now=utc(2026, 11, 26))
    payer = Payer(name="Acme Health", payer_code="ACME2")
    db.session.add(payer)
    db.session.flush()
    db.session.add(Coverage(patient_id=clinic.patient.id, priority=1, payer_id=payer.id, member_id="X1234567",
                            effective_date=date(2020, 1, 1), copay=Decimal("40.00")))
    db.session.commit()
    login_as("FrontDesk")
    page = client.get(f"/appointments/{visit.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    link = f"/copays/collect/{clinic.patient.id}?appointment={visit.id}"
    assert link in page and "Expected copay: $40.00" in page
    form = client.get(link, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'value="40.00"' in form and f'<option selected value="{visit.id}">' in form
    resp = collect(client, clinic.patient, amount="40.00", appointment=str(visit.id))
    assert resp.status_code == 302
    assert db.session.query(CopayPayment).one().appointment_id == visit.id
    client.get("/logout/")
    login_as("Clinician")
    page = client.get(f"/appointments/{visit.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "/copays/collect/" not in page

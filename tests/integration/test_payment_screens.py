"""Payment screens: a payer payment typed in (claims, preview, confirm: the same service as an 835),
its detail page, patient payments on account (take, receipt PDF, void) and the chart's Account panel;
bad input named and nothing written; every patient shown logged."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.claims import Claim
from app.models.payments import PatientPayment, PayerPayment
from app.services import posting
from tests.integration.test_letters import pdf_words
from tests.payments_setup import billing_clinic, claim_payment, remittance, sent_claim


@pytest.fixture
def c(icd10_sets, app):
    return billing_clinic()


CHART = "/patients"


def html(resp):
    return resp.get_data(as_text=True)


def payment_form(client, c, claim, stage, **fields):
    data = {"csrf_token": client.csrf_token, "payer": str(c.payer.id), "method": "check", "reference": "EOB-77",
            "paid_date": "2026-02-10", "amount": "80.00", "claim_numbers": claim.claim_number, "stage": stage,
            "c0-status": "1", "c0-paid": "80.00", "c0-pr": "20.00", "c0-icn": "PAYER123",
            "c0-l1-paid": "80.00", "c0-l1-adj": "PR-2 20.00", "c0-l1-remarks": "N130"}
    data.update(fields)
    if stage == "post":  # what is posted is what was previewed: the preview's fingerprint goes with it
        previewed = html(client.post("/payments/new", data=dict(data, stage="preview"),
                                     headers={"Accept-Language": "en"}))
        found = re.search(r'name="digest" value="([0-9a-f]*)"', previewed)
        data["digest"] = found.group(1) if found else ""
    return client.post("/payments/new", data=data, headers={"Accept-Language": "en"}, follow_redirects=False)


def payer_payments():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(PayerPayment))


def test_a_payer_payment_typed_in_is_previewed_then_posted(client, login_as, c):
    claim = sent_claim(c)
    login_as("Billing")
    page = client.get("/payments/new")
    assert page.status_code == 200 and "Enter a payer payment" in html(page)
    step = payment_form(client, c, claim, "claims")
    assert step.status_code == 200 and claim.claim_number in html(step) and 'name="c0-l1-paid"' in html(step)
    preview = payment_form(client, c, claim, "preview")
    body = html(preview)
    assert 'id="payment-preview"' in body and "Confirm and post" in body and payer_payments() == 0
    assert "paid" in body and "$20.00" in body  # balance after
    done = payment_form(client, c, claim, "post")
    assert done.status_code == 302 and payer_payments() == 1
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert claim.status == "paid" and claim.payer_claim_control_number == "PAYER123"
    detail = client.get(done.headers["Location"])
    body = html(detail)
    assert "EOB-77" in body and claim.claim_number in body and c.patient.display_name in body
    assert "PR-2: Coinsurance Amount" in body and "N130" in body
    assert db.session.query(AuditEvent).filter_by(patient_id=c.patient.id, object_type="Payment").count() >= 1
    listing = client.get("/payments/")
    assert "EOB-77" in html(listing)


def test_a_payment_changed_after_its_preview_is_previewed_again_not_posted(client, login_as, c):
    claim = sent_claim(c)
    login_as("Billing")
    previewed = html(payment_form(client, c, claim, "preview"))
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', previewed).group(1)
    changed = {"csrf_token": client.csrf_token, "payer": str(c.payer.id), "method": "check", "reference": "EOB-77",
               "paid_date": "2026-02-10", "amount": "80.00", "claim_numbers": claim.claim_number, "stage": "post",
               "c0-status": "1", "c0-paid": "80.00", "c0-pr": "20.00", "c0-icn": "OTHER9", "c0-l1-paid": "80.00",
               "c0-l1-adj": "PR-2 20.00", "c0-l1-remarks": "N130", "digest": digest}
    resp = client.post("/payments/new", data=changed, headers={"Accept-Language": "en"})
    assert resp.status_code == 200 and 'id="payment-preview"' in html(resp) and "changed after its preview" in html(resp)
    assert payer_payments() == 0


@pytest.mark.parametrize("fields,message", [
    ({"amount": "79.00"}, "does not match the claims"),
    ({"claim_numbers": "C99999999"}, "C99999999 is unknown"),
    ({"c0-l1-adj": "XX-45 20.00"}, "Unknown adjustment group XX"),
    ({"c0-l1-adj": "twenty"}, "group-reason amount"),
    ({"c0-paid": "180.00", "c0-l1-paid": "180.00", "c0-l1-adj": "CO-45 -100.00", "c0-pr": "0", "amount": "180.00"},
     "is more than the claim"),
    ({"payer": ""}, "Choose the payer"),
])
def test_bad_payer_payments_are_named_and_nothing_is_posted(client, login_as, c, fields, message):
    claim = sent_claim(c)
    login_as("Billing")
    for stage in ("preview", "post"):
        resp = payment_form(client, c, claim, stage, **fields)
        assert resp.status_code == 200 and message in html(resp), html(resp)[:3000]
        assert "Nothing was posted." in html(resp)
    assert payer_payments() == 0
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).status == "submitted"


def test_the_same_payment_is_not_posted_twice_from_the_screen(client, login_as, c):
    claim = sent_claim(c)
    login_as("Billing")
    assert payment_form(client, c, claim, "post").status_code == 302
    other = sent_claim(c, when=claim.encounter.appointment.start_local.replace(day=13))
    resp = payment_form(client, c, other, "post")
    assert "already posted" in html(resp) and payer_payments() == 1


def test_office_managers_read_payer_payments_but_enter_none(client, login_as, c):
    login_as("OfficeManager")
    assert client.get("/payments/").status_code == 200
    assert client.get("/payments/new").status_code in (302, 403)


# ------------------------------------------------------------------ patient payments and the account panel

def take(client, patient, **fields):
    data = {"amount": "25.00", "method": "cash", "reference": "", "claim": "", "csrf_token": client.csrf_token}
    data.update(fields)
    return client.post(f"/patient-payments/take/{patient.id}", data=data, headers={"Accept-Language": "en"})


def patient_payments():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(PatientPayment))


@pytest.mark.parametrize("fields,message", [
    ({"amount": "0"}, "more than zero"),
    ({"amount": "-10"}, "more than zero"),
    ({"amount": "ten"}, "as a number"),
    ({"method": "card", "reference": "4111 1111 1111 1111"}, "Do not type card numbers"),
    ({"method": "bitcoin"}, "Choose how the patient paid"),
])
def test_bad_patient_payments_are_named_and_nothing_is_written(client, login_as, c, fields, message):
    login_as("FrontDesk")
    resp = take(client, c.patient, **fields)
    assert resp.status_code == 200 and message in html(resp)
    assert "4111 1111 1111 1111" not in html(resp)
    assert patient_payments() == 0


def test_front_desk_takes_a_payment_on_a_claim_prints_the_receipt_and_voids_it(client, login_as, c, tmp_path):
    claim = sent_claim(c)
    c.patient.preferred_language = "es"
    db.session.commit()
    posting.post(c.session, remittance(c, claim_payment(claim, "70.00", pr="30.00")), actor=c.user)
    login_as("FrontDesk")
    chart = html(client.get(f"/patient-payments/take/{c.patient.id}"))
    assert "Patient balance: $30.00" in chart and claim.claim_number in chart
    assert take(client, c.patient, amount="31.00", claim=str(claim.id)).status_code == 200  # more than the balance
    assert patient_payments() == 0
    resp = take(client, c.patient, amount="30.00", method="card", reference="AUTH 0815", claim=str(claim.id))
    assert resp.status_code == 302 and patient_payments() == 1
    payment = db.session.scalars(select(PatientPayment)).one()
    assert posting.claim_balance(db.session, db.session.get(Claim, claim.id)).balance == Decimal("0.00")
    show = html(client.get(resp.headers["Location"]))
    assert payment.receipt_number in show and "AUTH 0815" in show
    assert f'href="/patient-payments/{payment.id}/receipt"' in show and 'id="payment-void-form"' in show
    assert f'action="/patient-payments/{payment.id}/void"' in show and "#chart-account" in show
    assert f"Claim {claim.claim_number}" in show  # applied to
    pdf = client.get(f"/patient-payments/{payment.id}/receipt")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = " ".join(pdf_words(pdf.data, tmp_path).split())
    assert "Recibo de pago" in text and "copago" not in text  # the receipt in the patient's language
    assert payment.receipt_number in text and "30,00" in text and "AUTH 0815" in text
    bad = client.post(f"/patient-payments/{payment.id}/void", data={"reason": " ", "csrf_token": client.csrf_token},
                      follow_redirects=True, headers={"Accept-Language": "en"})
    assert "Say why" in html(bad)
    db.session.expire_all()
    assert not db.session.get(PatientPayment, payment.id).voided
    client.post(f"/patient-payments/{payment.id}/void", data={"reason": "Refunded", "csrf_token": client.csrf_token})
    db.session.expire_all()
    assert db.session.get(PatientPayment, payment.id).voided
    assert posting.claim_balance(db.session, db.session.get(Claim, claim.id)).balance == Decimal("30.00")
    listing = html(client.get("/patient-payments/"))
    assert payment.receipt_number in listing
    assert db.session.query(AuditEvent).filter_by(patient_id=c.patient.id, object_type="PatientPayment").count() >= 2


@pytest.mark.parametrize("role,sees", [("Billing", True), ("FrontDesk", True), ("OfficeManager", True),
                                       ("Clinician", False)])
def test_the_account_panel_shows_the_balance_per_claim(client, login_as, c, role, sees):
    claim = sent_claim(c)
    posting.post(c.session, remittance(c, claim_payment(claim, "70.00", pr="30.00")), actor=c.user)
    login_as(role)
    chart = client.get(f"{CHART}/{c.patient.id}/chart", headers={"Accept-Language": "en"})
    assert chart.status_code == 200
    body = html(chart)
    assert ('id="chart-account"' in body) is sees
    if sees:
        assert 'id="account-balance-total"' in body and "$30.00" in body and claim.claim_number in body
        assert ('id="chart-take-payment"' in body) is True


def test_the_payment_receipt_exists_in_every_language(app):
    from app.documents import letters

    assert letters.missing_templates(("payment_receipt",)) == []
    assert letters.check_templates(("payment_receipt",)) == []

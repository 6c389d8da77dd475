"""Provider-level adjustments (835 PLB: interest L6, overpayment recovery WO, forwarding balance FB ...): read
with their reason, reference and fiscal period, shown on the 835 review under the payment they change, stored
with the payer payment when it is posted (all or nothing) and listed on the payment's page, so a check that
differs from the sum of its claim payments says why. They never change a claim's balance."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, select

from app.claims import Adjustment
from app.claims.x12_835 import read_835
from app.extensions import db
from app.models.claims import Claim
from app.models.payments import PayerPayment, ProviderAdjustment
from app.services import posting
from app.services.errors import ValidationFailed
from tests.integration.test_payer_file_screens import era, only_file, page_of, process, upload, words
from tests.billing_setup import VISIT
from tests.payments_setup import billing_clinic, claim_payment, remittance, sent_claim
from tests.x12_payer_files import payment_for, write_835

D = Decimal


@pytest.fixture
def c(icd10_sets):
    return billing_clinic()


def stored():
    db.session.expire_all()
    return [(a.reason_code, a.reference, a.amount, a.fiscal_period_date, a.payer_payment.reference)
            for a in db.session.scalars(select(ProviderAdjustment).order_by(ProviderAdjustment.id))]


def test_the_migration_creates_the_provider_adjustment_table(app):
    columns = {col["name"]: col for col in inspect(db.engine).get_columns("provider_adjustment")}
    assert {"id", "payer_payment_id", "reason_code", "reference", "amount", "fiscal_period_date"} <= set(columns)
    assert columns["payer_payment_id"]["nullable"] is False and columns["reason_code"]["nullable"] is False
    assert any(k["referred_table"] == "payer_payment" for k in inspect(db.engine).get_foreign_keys(
        "provider_adjustment"))


def test_the_reader_keeps_reason_reference_and_fiscal_period():
    from app.claims.remit import ClaimPayment

    paid = ClaimPayment(claim_number="C1", status_code="1", charge=D("100.00"), paid=D("100.00"),
                        patient_responsibility=D("0.00"), payer_claim_control_number="P1")
    text = write_835([paid], provider_adjustments=[("WO", "30.00", "EFT20260101"), ("L6", "-1.50", "C1")])
    (r,) = read_835(text)
    assert r.amount == D("71.50")
    assert [(a.reason, a.reference, a.amount, a.fiscal_period_date, a.description) for a in r.provider_adjustments] == [
        ("WO", "EFT20260101", D("30.00"), date(2026, 12, 31), "WO: Overpayment Recovery"),
        ("L6", "C1", D("-1.50"), date(2026, 12, 31), "L6: Interest Owed")]
    bad = text.replace("*WO:EFT20260101*", "*WOX:EFT20260101*")
    assert bad != text
    with pytest.raises(ValidationFailed) as refused:
        read_835(bad)
    assert "the adjustment reason" in str(refused.value.problems[0][1]) and "(PLB)" in str(refused.value.problems[0][1])


def test_an_835_with_plb_is_reviewed_posted_and_the_adjustments_are_kept_with_the_payment(c, client, login_as):
    login_as("Billing")
    first = sent_claim(c)
    second = sent_claim(c, when=VISIT + timedelta(days=3), lines=(("99214", "150.00"),))
    # the payer takes back 30.00 it overpaid earlier (WO) and adds 1.50 interest (L6): 80 + 120 - 30 + 1.50
    text = era(c, payment_for(first, paid="80.00", patient_responsibility="20.00"),
               payment_for(second, paid="120.00", patient_responsibility="30.00"),
               reference="EFT7770001", provider_adjustments=[("WO", "30.00", "EFT7770000"), ("L6", "-1.50", "")])
    page = page_of(upload(client, text))
    text_of_page = words(page)
    assert "$171.50" in text_of_page
    assert "WO: Overpayment Recovery" in page and "EFT7770000" in page and "$30.00" in page
    assert "L6: Interest Owed" in page and "-$1.50" in page
    assert "Paid on the claims $200.00" in text_of_page and "Post the payments" in page
    # shown under the payment header, before its claims
    panel = page.split('class="panel panel-default cd-remittance"')[1]
    assert panel.index("cd-provider-adjustments") < panel.index("cd-claim-payments")
    page = page_of(process(client, only_file()))
    assert "1 payment(s) posted: EFT7770001." in page
    db.session.expire_all()
    (payment,) = db.session.scalars(select(PayerPayment)).all()
    assert payment.amount == D("171.50")
    assert stored() == [("WO", "EFT7770000", D("30.00"), date(2026, 12, 31), "EFT7770001"),
                        ("L6", None, D("-1.50"), date(2026, 12, 31), "EFT7770001")]
    # the claims' balances are what their own payments leave: the PLB touches none of them
    for claim_id, balance in ((first.id, D("20.00")), (second.id, D("30.00"))):
        claim = db.session.get(Claim, claim_id)
        assert claim.status == "paid" and posting.claim_balance(db.session, claim).balance == balance
    # the payment's page says why the check differs from its claims
    detail = page_of(client.get(f"/payments/{payment.id}"))
    assert 'id="payment-provider-adjustments"' in detail
    assert "WO: Overpayment Recovery" in detail and "EFT7770000" in detail and "L6: Interest Owed" in detail
    assert "Paid on the claims $200.00" in words(detail) and "$171.50" in detail


def test_a_payment_without_plb_shows_no_provider_adjustments(c, client, login_as):
    login_as("Billing")
    claim = sent_claim(c)
    payment = posting.post(c.session, remittance(c, claim_payment(claim, "80.00", pr="20.00")), actor=c.user)
    assert payment.provider_adjustments == [] and stored() == []
    detail = page_of(client.get(f"/payments/{payment.id}"))
    assert "payment-provider-adjustments" not in detail


def test_posting_stores_plain_adjustments_and_refuses_bad_ones_changing_nothing(c):
    claim = sent_claim(c)
    bad = remittance(c, claim_payment(claim, "80.00", pr="20.00"), amount="75.00")
    bad.provider_adjustments = [Adjustment("PLB", "XYZ", D("5.00"))]
    with pytest.raises(ValidationFailed) as refused:
        posting.post(c.session, bad, actor=c.user)
    assert any("Provider adjustment reason XYZ is not a PLB reason code" in str(m) for _f, m in refused.value.problems)
    bad.provider_adjustments = [Adjustment("PLB", "L6", "five")]
    with pytest.raises(ValidationFailed) as refused:
        posting.post(c.session, bad, actor=c.user)
    assert any("provider adjustment amount is not a number" in str(m) for _f, m in refused.value.problems)
    assert db.session.scalar(select(func.count()).select_from(PayerPayment)) == 0 and stored() == []
    assert db.session.get(Claim, claim.id).status == "submitted"
    good = remittance(c, claim_payment(claim, "80.00", pr="20.00"), amount="75.00")
    good.provider_adjustments = [Adjustment("", "cs", D("5.00"))]  # no reference, no fiscal period: both optional
    payment = posting.post(c.session, good, actor=c.user)
    assert stored() == [("CS", None, D("5.00"), None, payment.reference)]
    assert payment.provider_adjustments[0].description == "CS: Adjustment"
    assert posting.claim_balance(db.session, db.session.get(Claim, claim.id)).balance == D("20.00")


def test_plb_reason_texts_are_the_x12_meanings():
    from app.claims import codes

    assert codes.describe_provider_adjustment("fb") == "FB: Forwarding Balance"
    assert codes.describe_provider_adjustment("72") == "72: Authorized Return"
    assert codes.describe_provider_adjustment("J1") == "J1: Nonreimbursable"
    assert codes.describe_provider_adjustment("IR") == "IR: Internal Revenue Service Withholding"
    assert codes.describe_provider_adjustment("ZZ") == "ZZ"

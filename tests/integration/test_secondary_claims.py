"""Secondary claims: once the primary payer's payment is posted, the claim to the secondary coverage
carries the primary's adjudication (837P loops 2320/2330 and 2430: what it paid, its CAS adjustments
at claim and line level, the paid date and its claim control number), and the file is valid X12
(pyx12 999 AK9*A, parsed by x12sdk)."""
from datetime import date, datetime
from decimal import Decimal

import pytest

from app.claims import Adjustment
from app.claims.x12_837p import envelope_from_settings, write_837p
from app.extensions import db
from app.models.billing import Payer
from app.models.claims import Claim
from app.services import claims, posting
from app.services import coverage as coverage_service
from app.services.billing_setup import get_settings
from tests.integration.test_837p import all_claims, assert_valid
from tests.payments_setup import D, TODAY, billing_clinic, claim_payment, remittance, sent_claim

CREATED = datetime(2026, 2, 12, 10, 30)


@pytest.fixture
def c(icd10_sets):
    clinic = billing_clinic()
    clinic.payer2 = Payer(name="MassHealth", payer_code="MCDMA", claim_filing_indicator="MC", timely_filing_days=365,
                          address_line1="PO Box 2", city="Boston", state="MA", postal_code="02101")
    db.session.add(clinic.payer2)
    db.session.commit()
    clinic.secondary = coverage_service.add_coverage(
        db.session, clinic.patient, payer=clinic.payer2, priority=2, member_id="MCD5566778",
        effective_date=date(2025, 1, 1))
    return clinic


def test_a_secondary_claim_carries_the_primary_payers_adjudication_and_validates(c):
    primary = sent_claim(c, lines=(("99213", "125.00"), ("81002", "15.00")))
    payment = claim_payment(primary, "90.50", pr="24.50", icn="BHH2026112500017")
    # the primary's line-level CAS: contractual write-off and coinsurance
    payment.lines[0].adjustments = [Adjustment("CO", "45", D("25.00")), Adjustment("PR", "2", D("20.00"))]
    payment.lines[0].paid = D("80.00")
    payment.lines[1].adjustments = [Adjustment("PR", "2", D("4.50"))]
    payment.lines[1].paid = D("10.50")
    posting.post(c.session, remittance(c, payment, paid_date=date(2026, 2, 10)), actor=c.user)
    db.session.expire_all()
    primary = db.session.get(Claim, primary.id)
    assert primary.status == "paid"

    secondary = claims.build_claim(c.session, primary.encounter, coverage=c.secondary, actor=c.user)
    data = claims.claim_data(c.session, secondary)
    assert data.payer_responsibility == "S" and data.payer.id == "MCDMA"
    (other,) = data.other_payers
    assert (other.payer.id, other.paid, other.payer_claim_control_number, other.claim_filing_indicator) == (
        "ACME1", D("90.50"), "BHH2026112500017", "CI")
    assert other.adjustments == []  # every adjustment was on a line
    assert [(a.payer_id, a.paid, a.paid_date, [(x.group, x.reason, x.amount) for x in a.adjustments])
            for line in data.lines for a in line.other_payer] == [
        ("ACME1", D("80.00"), date(2026, 2, 10), [("CO", "45", D("25.00")), ("PR", "2", D("20.00"))]),
        ("ACME1", D("10.50"), date(2026, 2, 10), [("PR", "2", D("4.50"))])]

    text = write_837p([data], envelope=envelope_from_settings(get_settings(c.session)), control_number=51,
                      created_at=CREATED)
    model = assert_valid(text)
    ((subscriber, _, claim_loop),) = all_claims(model)
    assert subscriber.sbr_segment.payer_responsibility_code == "S"
    (loop_2320,) = claim_loop.loop_2320
    assert loop_2320.sbr_segment.payer_responsibility_code == "P"
    assert [(a.amount_qualifier_code, a.monetary_amount) for a in loop_2320.amt_segment] == [("D", Decimal("90.5"))]
    assert loop_2320.loop_2330b.nm1_segment.identification_code == "ACME1"
    assert [r.reference_identification for r in loop_2320.loop_2330b.ref_segment] == ["BHH2026112500017"]
    found = []
    for service in claim_loop.loop_2400:
        (adjudication,) = service.loop_2430
        svd = adjudication.svd_segment
        cas = [(x.adjustment_group_code, x.adjustment_reason_code_1, Decimal(str(x.monetary_amount_1)))
               for x in adjudication.cas_segment]
        found.append((svd.other_payer_primary_identifier, Decimal(str(svd.service_line_paid_amount)), cas,
                      adjudication.dtp_segment.date_time_qualifier))
    assert found == [("ACME1", Decimal("80"), [("CO", "45", Decimal("25")), ("PR", "2", Decimal("20"))], "573"),
                     ("ACME1", Decimal("10.5"), [("PR", "2", Decimal("4.5"))], "573")]
    # the secondary's balance: the services are billed once, the primary's payment counts
    b = posting.claim_balance(c.session, secondary)
    assert (b.charge, b.payer_paid, b.adjustments, b.balance) == (D("140.00"), D("90.50"), D("25.00"), D("24.50"))
    assert b.patient_responsibility == D("0.00") and b.insurance_balance == D("24.50")  # waiting for the secondary


def test_claim_level_adjustments_and_a_reversal_net_out_in_2320(c):
    primary = sent_claim(c)
    first = claim_payment(primary, "70.00", pr="10.00", line_level=False, icn="ICN1")
    posting.post(c.session, remittance(c, first, reference="P1"), actor=c.user)
    db.session.expire_all()
    primary = db.session.get(Claim, primary.id)
    reversal = claim_payment(primary, "70.00", pr="10.00", line_level=False, status="22")
    corrected = claim_payment(primary, "60.00", pr="20.00", line_level=False, icn="ICN2")
    posting.post(c.session, remittance(c, reversal, corrected, reference="P2", amount="-10.00"), actor=c.user)
    db.session.expire_all()
    primary = db.session.get(Claim, primary.id)
    assert primary.payer_claim_control_number == "ICN2"
    secondary = claims.build_claim(c.session, primary.encounter, coverage=c.secondary, actor=c.user)
    data = claims.claim_data(c.session, secondary)
    (other,) = data.other_payers
    assert other.paid == D("60.00")
    assert sorted((a.group, a.reason, a.amount) for a in other.adjustments) == [
        ("CO", "45", D("20.00")), ("PR", "2", D("20.00"))]
    assert all(line.other_payer == [] for line in data.lines)
    model = assert_valid(write_837p([data], envelope=envelope_from_settings(get_settings(c.session)),
                                    control_number=52, created_at=CREATED))
    ((_, _, claim_loop),) = all_claims(model)
    cas = sorted((x.adjustment_group_code, x.adjustment_reason_code_1, Decimal(str(x.monetary_amount_1)))
                 for x in claim_loop.loop_2320[0].cas_segment)
    assert cas == [("CO", "45", Decimal("20")), ("PR", "2", Decimal("20"))]


def test_a_primary_claim_has_no_other_payer_nor_a_secondary_before_the_primary_is_posted(c):
    primary = sent_claim(c)
    assert claims.claim_data(c.session, primary).other_payers == []
    secondary = claims.build_claim(c.session, primary.encounter, coverage=c.secondary, actor=c.user)
    data = claims.claim_data(c.session, secondary)
    assert data.other_payers == [] and all(line.other_payer == [] for line in data.lines)


def test_the_secondary_payment_with_the_prior_payer_impact_settles_the_claim(c):
    primary = sent_claim(c)
    posting.post(c.session, remittance(c, claim_payment(primary, "60.00", co="20.00", pr="20.00")), actor=c.user)
    db.session.expire_all()
    secondary = claims.build_claim(c.session, db.session.get(Claim, primary.id).encounter, coverage=c.secondary,
                                   actor=c.user)
    assert claims.scrub(c.session, secondary, today=TODAY) == []  # repeating the primary's lines is no duplicate
    for step in ("ready", "submitted"):
        claims.transition(c.session, secondary, step, actor=c.user, expected_version=secondary.version, today=TODAY)
    from app.claims.remit import ClaimPayment, Remittance

    paid = ClaimPayment(claim_number=secondary.claim_number, status_code="2", charge=D("100.00"), paid=D("20.00"),
                        patient_responsibility=D("0.00"), payer_claim_control_number="MCD1",
                        adjustments=[Adjustment("OA", "23", D("80.00"))])
    posting.post(c.session, Remittance(payer_name="MassHealth", payer_identifier="MCDMA", method="eft",
                                       reference="EFT9", paid_date=date(2026, 3, 1), amount=D("20.00"),
                                       claims=[paid]), actor=c.user)
    db.session.expire_all()
    secondary = db.session.get(Claim, secondary.id)
    assert secondary.status == "paid"
    b = posting.claim_balance(c.session, secondary)
    assert (b.payer_paid, b.adjustments, b.patient_responsibility, b.balance) == (
        D("80.00"), D("20.00"), D("0.00"), D("0.00"))
    assert posting.patient_account(c.session, c.patient).balance == D("0.00")

"""Posting (app/services/posting.py): payer payments (typed in or read from an 835) posted all or
nothing with the claims moved along their lifecycle, reversals, patient payments and voids, and
the balances — charge - payer paid - patient paid - adjustments, to the cent — after every step."""
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.claims import Adjustment
from app.extensions import db
from app.models.billing import CopayPayment
from app.models.claims import Claim, ClaimStatusChange
from app.models.payments import ClaimPosting, LinePosting, PatientPayment, PayerPayment, PostingAdjustment
from app.services import copays, posting
from app.services.errors import ValidationFailed
from tests.payments_setup import D, VISIT, billing_clinic, claim_payment, remittance, sent_claim


@pytest.fixture
def c(icd10_sets):
    return billing_clinic()


def counts():
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (
        PayerPayment, ClaimPosting, LinePosting, PostingAdjustment, PatientPayment, ClaimStatusChange)) + tuple(
        (cl.status, cl.version, cl.payer_claim_control_number)
        for cl in db.session.scalars(select(Claim).order_by(Claim.id)))


def refused(fn, *args, **kw):
    before = counts()
    with pytest.raises(ValidationFailed) as err:
        fn(*args, **kw)
    assert counts() == before  # nothing changed
    return [str(m) for _, m in err.value.problems]


# ------------------------------------------------------------------ payer payments

def test_a_payment_pays_the_claim_moves_it_and_stores_the_payer_control_number(c):
    claim = sent_claim(c, lines=(("99213", "100.00"), ("81002", "20.00")))
    payment = posting.post(c.session, remittance(c, claim_payment(claim, "80.00", pr="20.00", icn="ICN777")),
                           actor=c.user)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert (payment.amount, payment.method, payment.reference, payment.posted_by_fk) == (
        D("80.00"), "check", "CHK1001", c.user.id)
    assert claim.status == "paid" and claim.payer_claim_control_number == "ICN777"
    assert [(s.from_status, s.to_status, s.changed_by_fk) for s in claim.status_changes][-2:] == [
        ("submitted", "accepted", c.user.id), ("accepted", "paid", c.user.id)]
    (cp,) = payment.claims
    assert [(lp.claim_line.code, lp.paid) for lp in cp.lines] == [("99213", D("80.00")), ("81002", D("0.00"))]
    assert sorted((a.group_code, a.reason_code, a.amount, a.line_posting is not None) for a in cp.adjustments) == [
        ("CO", "45", D("20.00"), True), ("PR", "2", D("20.00"), True)]
    b = posting.claim_balance(c.session, claim)
    assert (b.charge, b.payer_paid, b.adjustments, b.patient_responsibility, b.patient_paid) == (
        D("120.00"), D("80.00"), D("20.00"), D("20.00"), D("0.00"))
    assert (b.balance, b.patient_balance, b.insurance_balance) == (D("20.00"), D("20.00"), D("0.00"))


def test_a_denial_moves_the_claim_to_denied_with_the_readable_reason(c):
    claim = sent_claim(c, status="accepted")
    denial = claim_payment(claim, "0", status="4", adjustments=[Adjustment("CO", "50", D("100.00"))], icn="ICN9")
    denial.remarks = ["N386"]
    posting.post(c.session, remittance(c, denial, method="none", reference="NOPAY1"), actor=c.user)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert claim.status == "denied"
    note = claim.status_changes[-1].note
    assert "CO-50" in note and "medical necessity" in note and "N386" in note
    assert posting.denial_reasons(c.session, claim)[0].startswith("CO-50: These are non-covered services")
    # nothing paid with a denial reason but a processed status is a denial too
    other = sent_claim(c, when=VISIT + timedelta(days=1))
    zero = claim_payment(other, "0", adjustments=[Adjustment("CO", "197", D("100.00"))])
    posting.post(c.session, remittance(c, zero, reference="NOPAY2", method="none"), actor=c.user)
    db.session.expire_all()
    assert db.session.get(Claim, other.id).status == "denied"
    # nothing paid because of the deductible is no denial: the patient owes it
    third = sent_claim(c, when=VISIT + timedelta(days=2))
    deductible = claim_payment(third, "0", pr="100.00")
    posting.post(c.session, remittance(c, deductible, reference="NOPAY3", method="none"), actor=c.user)
    db.session.expire_all()
    third = db.session.get(Claim, third.id)
    assert third.status == "paid"
    assert posting.claim_balance(c.session, third).patient_balance == D("100.00")


def test_an_appealed_claim_is_paid_by_a_later_payment(c):
    claim = sent_claim(c, status="accepted")
    posting.post(c.session, remittance(c, claim_payment(claim, "0", status="4", adjustments=[
        Adjustment("CO", "16", D("100.00"))]), method="none", reference="DEN1"), actor=c.user)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    from app.services import claims
    claims.transition(c.session, claim, "appealed", actor=c.user, expected_version=claim.version)
    # the denial is reversed and the claim paid in the same payment
    reversal = claim_payment(claim, "0", status="22", adjustments=[Adjustment("CO", "16", D("-100.00"))])
    paid = claim_payment(claim, "90.00", co="10.00", icn="ICN2")
    posting.post(c.session, remittance(c, reversal, paid, reference="APL1"), actor=c.user)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert (claim.status, claim.status_changes[-1].from_status) == ("paid", "appealed")
    b = posting.claim_balance(c.session, claim)
    assert (b.payer_paid, b.adjustments, b.balance) == (D("90.00"), D("10.00"), D("0.00"))


def test_a_reversal_takes_back_an_earlier_payment_and_a_corrected_payment_replaces_it(c):
    claim = sent_claim(c, lines=(("99213", "100.00"), ("81002", "20.00")))
    posting.post(c.session, remittance(c, claim_payment(claim, "100.00")), actor=c.user)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert posting.claim_balance(c.session, claim).balance == D("0.00")
    reversal = claim_payment(claim, "100.00", status="22")
    assert reversal.paid == D("-100.00") and all(a.amount < 0 for ln in reversal.lines for a in ln.adjustments)
    corrected = claim_payment(claim, "70.00", pr="30.00")
    posting.post(c.session, remittance(c, reversal, corrected, reference="CHK2002", amount="-30.00"), actor=c.user)
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    b = posting.claim_balance(c.session, claim)
    assert (b.payer_paid, b.adjustments, b.patient_responsibility, b.balance) == (
        D("70.00"), D("20.00"), D("30.00"), D("30.00"))
    assert claim.status == "paid"
    # a reversal alone of more than was paid is refused
    messages = refused(posting.post, c.session, remittance(c, claim_payment(claim, "80.00", status="22"),
                                                         reference="CHK3003"), actor=c.user)
    assert any("nothing to reverse" in m for m in messages)


def test_a_paid_claim_is_not_paid_again_without_a_reversal(c):
    claim = sent_claim(c)
    posting.post(c.session, remittance(c, claim_payment(claim, "50.00")), actor=c.user)
    messages = refused(posting.post, c.session, remittance(c, claim_payment(claim, "10.00"), reference="X2"),
                       actor=c.user)
    assert any("already paid" in m and "reversal" in m for m in messages)


# ------------------------------------------------------------------ bad input: each refused, nothing changed

def test_bad_remittances_are_refused_with_a_clear_message_and_nothing_changes(c):
    claim = sent_claim(c)
    draft = sent_claim(c, when=VISIT + timedelta(days=3), status="ready")
    good = lambda **kw: claim_payment(claim, "80.00", pr="20.00", **kw)  # noqa: E731

    unknown = good()
    unknown.claim_number = "C99999999"
    assert any("C99999999 is unknown" in m for m in refused(posting.post, c.session, remittance(c, unknown),
                                                             actor=c.user))
    too_much = claim_payment(claim, "150.00", co="-50.00")
    assert any("more than the claim's balance" in m
               for m in refused(posting.post, c.session, remittance(c, too_much), actor=c.user))
    assert any("does not match the claims" in m
               for m in refused(posting.post, c.session, remittance(c, good(), amount="79.00"), actor=c.user))
    plb = remittance(c, good(), amount="75.00")
    plb.provider_adjustments = [Adjustment("", "L6", D("4.00"))]
    assert any("does not match" in m for m in refused(posting.post, c.session, plb, actor=c.user))
    plb.provider_adjustments = [Adjustment("", "L6", D("5.00"))]  # 80 - 5 = 75: balances (checked in preview)
    assert posting.preview(c.session, plb).problems == []
    bad_group = claim_payment(claim, "80.00", adjustments=[Adjustment("XX", "45", D("20.00"))])
    assert any("Unknown adjustment group XX" in m
               for m in refused(posting.post, c.session, remittance(c, bad_group), actor=c.user))
    unbalanced = good()
    unbalanced.lines[0].paid = D("70.00")
    unbalanced.paid = D("70.00")
    assert any("does not balance" in m
               for m in refused(posting.post, c.session, remittance(c, unbalanced, amount="70.00"), actor=c.user))
    not_sent = claim_payment(draft, "10.00")
    assert any("only a claim sent to the payer" in m
               for m in refused(posting.post, c.session, remittance(c, not_sent), actor=c.user))
    unknown_payer = remittance(c, good())
    unknown_payer.payer_identifier, unknown_payer.payer_name = "NOPE", "Nobody"
    assert any("Unknown payer NOPE" in m for m in refused(posting.post, c.session, unknown_payer, actor=c.user))
    # all or nothing: a good claim next to a bad one is not posted either
    assert refused(posting.post, c.session, remittance(c, good(), not_sent), actor=c.user)
    # the same reference, the same file: never posted twice
    posting.post(c.session, remittance(c, good(), sha="a" * 64), actor=c.user)
    other = sent_claim(c, when=VISIT + timedelta(days=5))
    messages = refused(posting.post, c.session, remittance(c, claim_payment(other, "10.00")), actor=c.user)
    assert any("already posted" in m and "nothing is posted twice" in m for m in messages)
    messages = refused(posting.post, c.session, remittance(c, claim_payment(other, "10.00"), reference="NEW",
                                                           sha="a" * 64), actor=c.user)
    assert any("This file was already posted" in m for m in messages)


def test_the_preview_writes_nothing_and_names_the_claims_and_what_changes(c):
    claim = sent_claim(c)
    before = counts()
    result = posting.preview(c.session, remittance(c, claim_payment(claim, "80.00", pr="20.00")))
    assert counts() == before
    assert result.ok and result.payer.id == c.payer.id and result.total_paid == D("80.00")
    (item,) = result.claims
    assert (item.claim.id, item.new_status, item.balance.balance, item.balance_after) == (
        claim.id, "paid", D("100.00"), D("20.00"))


# ------------------------------------------------------------------ patient payments

def test_patient_payments_and_voids(c):
    claim = sent_claim(c)
    posting.post(c.session, remittance(c, claim_payment(claim, "80.00", pr="20.00")), actor=c.user)
    pay = posting.post_patient_payment(c.session, c.patient, amount="15.00", method="card", reference="APP123",
                                       claim=claim, actor=c.user)
    assert pay.receipt_number.startswith("R") and pay.amount == D("15.00")
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert posting.claim_balance(c.session, claim).patient_balance == D("5.00")
    # bad input, each refused with its message and nothing written
    for amount, expected in (("0", "more than zero"), ("-5", "more than zero"), ("abc", "as a number"),
                             ("1.005", "two decimals"), ("100000.01", "A payment cannot be more than 100,000.")):
        assert any(expected in m for m in refused(posting.post_patient_payment, c.session, c.patient, amount=amount,
                                                  method="cash", actor=c.user))
    for reference in ("4111 1111 1111 1111", "4111-1111-1111", "378282246310005", "5555555555554444"):
        if posting.looks_like_card_number(reference):
            assert any("card numbers" in m for m in refused(
                posting.post_patient_payment, c.session, c.patient, amount="5", method="card",
                reference=reference, actor=c.user))
    assert posting.looks_like_card_number("4111 1111 1111 1111")
    assert posting.looks_like_card_number("123456789007")  # 12 digits passing Luhn
    assert not posting.looks_like_card_number("APP123") and not posting.looks_like_card_number("1001")
    assert any("more than the balance of claim" in m for m in refused(
        posting.post_patient_payment, c.session, c.patient, amount="6.00", method="cash", claim=claim, actor=c.user))
    assert any("Choose how the patient paid" in m for m in refused(
        posting.post_patient_payment, c.session, c.patient, amount="6.00", method="bitcoin", actor=c.user))
    # a payment on account (no claim), then voided
    on_account = posting.post_patient_payment(c.session, c.patient, amount="50", method="cash", actor=c.user)
    assert posting.patient_account(c.session, c.patient).balance == D("-45.00")  # 5 owed - 50 on account
    assert any("Say why" in m for m in refused(posting.void_patient_payment, c.session, on_account, reason=" ",
                                               actor=c.user))
    posting.void_patient_payment(c.session, on_account, reason="Entered twice", actor=c.user)
    assert posting.patient_account(c.session, c.patient).balance == D("5.00")
    assert any("already void" in m for m in refused(posting.void_patient_payment, c.session, on_account,
                                                    reason="again", actor=c.user))


# ------------------------------------------------------------------ the invariant, every path, random order

def check_invariant(c):
    db.session.expire_all()
    all_claims = db.session.scalars(select(Claim).order_by(Claim.id)).all()
    expected_total = Decimal("0.00")
    encounters_seen = set()
    for claim in all_claims:
        b = posting.claim_balance(c.session, claim)
        family = [x.id for x in all_claims if x.encounter_id == claim.encounter_id]
        postings = db.session.scalars(select(ClaimPosting).where(ClaimPosting.claim_id.in_(family))).all()
        paid = sum((p.paid for p in postings), Decimal("0.00"))
        adjusted = sum((a.amount for p in postings for a in p.adjustments if a.group_code != "PR"), Decimal("0.00"))
        patient_paid = sum((p.amount for p in db.session.scalars(select(PatientPayment).where(
            PatientPayment.claim_id.in_(family), PatientPayment.voided.is_(False)))), Decimal("0.00"))
        patient_paid += sum((p.amount for p in db.session.scalars(select(CopayPayment).where(
            CopayPayment.appointment_id == claim.encounter.appointment_id, CopayPayment.voided.is_(False)))),
            Decimal("0.00"))
        assert (b.charge, b.payer_paid, b.adjustments, b.patient_paid) == (claim.total_charge, paid, adjusted,
                                                                           patient_paid)
        assert b.balance == b.charge - b.payer_paid - b.patient_paid - b.adjustments
        assert b.balance == b.insurance_balance + b.patient_balance
        assert all(x == x.quantize(Decimal("0.01")) for x in (b.balance, b.patient_balance, b.insurance_balance))
        assert b.payer_paid >= 0 and b.charge - b.payer_paid - b.adjustments >= 0  # never paid more than billed
        if claim.encounter_id not in encounters_seen:
            encounters_seen.add(claim.encounter_id)
            expected_total += b.balance
    unapplied = sum((p.amount for p in db.session.scalars(select(PatientPayment).where(
        PatientPayment.claim_id.is_(None), PatientPayment.voided.is_(False)))), Decimal("0.00"))
    account = posting.patient_account(c.session, c.patient)
    assert account.balance == expected_total - unapplied
    assert account.balance == sum((ln.balance.balance for ln in account.lines), Decimal("0.00")) - account.unapplied
    assert account.balance == account.insurance_balance + account.patient_balance


@pytest.mark.parametrize("seed", [20261127, 7, 1999])
def test_every_posting_path_in_random_order_keeps_every_balance(c, seed):
    rng = random.Random(seed)
    claims_ = [sent_claim(c, when=VISIT + timedelta(days=i), lines=(("99213", "100.00"), ("81002", "25.50")))
               for i in range(3)]
    appointment_ids = [cl.encounter.appointment_id for cl in claims_]
    counter = iter(range(10_000))
    done = {"payer": 0, "patient": 0, "copay": 0, "reversal": 0, "void": 0, "refused": 0}

    def fresh(claim):
        db.session.expire_all()
        return db.session.get(Claim, claim.id)

    def unreversed(claim):
        """The claim's last adjudication not yet taken back by a reversal, or None."""
        rows = db.session.scalars(select(ClaimPosting).where(ClaimPosting.claim_id == claim.id)
                                  .order_by(ClaimPosting.id)).all()
        taken = [p for p in rows if p.status_code != "22"]
        back = [p for p in rows if p.status_code == "22"]
        return taken[-1] if len(back) < len(taken) else None

    def reversal_of(claim, p):
        from app.claims.remit import ClaimPayment
        return ClaimPayment(claim_number=claim.claim_number, status_code="22", charge=-p.charge, paid=-p.paid,
                            patient_responsibility=-p.patient_responsibility, payer_claim_control_number=None,
                            adjustments=[Adjustment(a.group_code, a.reason_code, -a.amount) for a in p.adjustments])

    def pay(claim, as_835):
        """A payment; on a claim already adjudicated, the payer's correction: reversal + new payment."""
        b = posting.claim_balance(c.session, claim)
        payments, open_amount = [], b.charge - b.payer_paid - b.adjustments
        earlier = unreversed(claim)
        if claim.status in ("paid", "denied") and earlier is not None:
            payments.append(reversal_of(claim, earlier))
            open_amount += earlier.paid + sum((a.amount for a in earlier.adjustments if a.group_code != "PR"),
                                              Decimal("0.00"))
        paid = (open_amount * Decimal(rng.randint(0, 100)) / 100).quantize(Decimal("0.01"))
        pr = ((open_amount - paid) * Decimal(rng.randint(0, 100)) / 100).quantize(Decimal("0.01"))
        full = open_amount == b.charge and not payments
        payment = claim_payment(claim, paid, pr=pr, co=open_amount - paid - pr,
                                line_level=full and rng.random() < 0.7, icn=f"ICN{next(counter)}")
        payment.charge = open_amount
        n = next(counter)
        posting.post(c.session, remittance(c, *payments, payment, reference=f"R{n}",
                                           source="835" if as_835 else "manual",
                                           sha=f"{n:064d}" if as_835 else None), actor=c.user)
        return True

    def reverse(claim):
        earlier = unreversed(claim)
        if earlier is None:
            return False
        posting.post(c.session, remittance(c, reversal_of(claim, earlier), reference=f"REV{next(counter)}"),
                     actor=c.user)
        return True

    actions = ["manual", "835", "patient", "copay", "reversal", "void", "bad"]
    plan = actions * 3 + [rng.choice(actions) for _ in range(25)]  # every path several times, in random order
    rng.shuffle(plan)
    for action in plan:
        claim = fresh(rng.choice(claims_))
        if action in ("manual", "835"):
            if pay(claim, action == "835"):
                done["payer"] += 1
        elif action == "patient":
            on_claim = rng.random() < 0.5
            bal = posting.claim_balance(c.session, claim).balance
            amount = Decimal(rng.randint(1, 4000)) / 100
            if on_claim and amount > bal:
                amount = bal
            if amount > 0:
                posting.post_patient_payment(c.session, c.patient, amount=amount, method=rng.choice(
                    ["cash", "card", "check"]), reference="OK1", claim=claim if on_claim else None, actor=c.user)
                done["patient"] += 1
        elif action == "copay":
            copays.record_copay(c.session, patient=c.patient, amount=Decimal(rng.choice([10, 20, 25])),
                                method="cash", appointment=rng.choice(appointment_ids), actor=c.user)
            done["copay"] += 1
        elif action == "reversal":
            if reverse(claim):
                done["reversal"] += 1
        elif action == "void":
            live = db.session.scalars(select(PatientPayment).where(PatientPayment.voided.is_(False))).all()
            live_copays = db.session.scalars(select(CopayPayment).where(CopayPayment.voided.is_(False))).all()
            if live and rng.random() < 0.6:
                posting.void_patient_payment(c.session, rng.choice(live), reason="Refunded", actor=c.user)
                done["void"] += 1
            elif live_copays:
                copays.void_copay(c.session, rng.choice(live_copays), reason="Refunded", actor=c.user)
                done["void"] += 1
        else:
            before = counts()
            with pytest.raises(ValidationFailed):
                posting.post_patient_payment(c.session, c.patient, amount=rng.choice(["0", "-1", "x"]),
                                             method="cash", actor=c.user)
            assert counts() == before
            done["refused"] += 1
        check_invariant(c)
    assert all(done.values()), done  # every path was taken


def test_the_account_lists_claims_visits_not_billed_yet_and_self_pay_visits(c):
    from tests.factories import PatientFactory
    from tests.payments_setup import ready_encounter

    claim = sent_claim(c)
    posting.post(c.session, remittance(c, claim_payment(claim, "60.00", pr="40.00")), actor=c.user)
    waiting = ready_encounter(c, when=VISIT + timedelta(days=1), lines=(("99214", "150.00"),))
    copays.record_copay(c.session, patient=c.patient, amount=Decimal("20"), method="cash",
                        appointment=waiting.appointment_id, actor=c.user)
    account = posting.patient_account(c.session, c.patient)
    assert [(ln.kind, ln.balance.insurance_balance, ln.balance.patient_balance) for ln in account.lines] == [
        ("unbilled", D("150.00"), D("-20.00")), ("claim", D("0.00"), D("40.00"))]
    assert (account.insurance_balance, account.patient_balance, account.balance) == (
        D("150.00"), D("20.00"), D("170.00"))
    uninsured = PatientFactory()
    visit = ready_encounter(c, when=VISIT + timedelta(days=2), lines=(("99213", "100.00"),), patient=uninsured)
    copays.record_copay(c.session, patient=uninsured, amount=Decimal("30"), method="cash",
                        appointment=visit.appointment_id, actor=c.user)
    account = posting.patient_account(c.session, uninsured)
    assert [(ln.kind, ln.balance.patient_balance) for ln in account.lines] == [("self_pay", D("70.00"))]
    assert (account.insurance_balance, account.balance) == (D("0.00"), D("70.00"))


def test_all_or_nothing_when_a_later_claim_fails_while_posting(c, monkeypatch):
    first, second = sent_claim(c), sent_claim(c, when=VISIT + timedelta(days=1))
    real = posting.claim_service.transition
    calls = []

    def failing(session, claim, *args, **kw):
        calls.append(claim.id)
        if claim.id == second.id:
            raise ValidationFailed([("status", "boom")])
        return real(session, claim, *args, **kw)

    monkeypatch.setattr(posting.claim_service, "transition", failing)
    refused(posting.post, c.session, remittance(c, claim_payment(first, "100.00"), claim_payment(second, "100.00")),
            actor=c.user)
    assert first.id in calls and second.id in calls  # the first claim had moved before the second failed


def test_two_clerks_posting_the_same_check_at_once_post_it_once(c, monkeypatch):
    claim = sent_claim(c)
    data = remittance(c, claim_payment(claim, "80.00", pr="20.00"))
    stale_preview = posting.preview(c.session, data)  # what the second clerk saw before the first posted
    other = sent_claim(c, when=VISIT + timedelta(days=1))
    posting.post(c.session, remittance(c, claim_payment(other, "50.00")), actor=c.user)  # same check CHK1001
    monkeypatch.setattr(posting, "preview", lambda session, remittance: stale_preview)
    messages = refused(posting.post, c.session, data, actor=c.user)
    assert any("nothing is posted twice" in m for m in messages)

"""`flask clinic seed-demo` runs a living billing office (app/services/demo_billing_flow.py): claims in
every status, batches with their 837P, acknowledgements, payer and patient payments, balances in every
aging bucket, statements due, prior authorization alerts; once only."""
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db

COUNT = 300


@pytest.fixture
def office(app, icd10_sets, runner):
    result = runner.invoke(args=["clinic", "seed-demo", "--patients", str(COUNT), "--seed", "7"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _counts():
    from app.models import Appointment
    from app.models.authorizations import PriorAuthorization
    from app.models.billing import ChargeLine, Encounter
    from app.models.claims import Claim, ClaimBatch, ClaimStatusChange
    from app.models.payments import ClaimPosting, PatientPayment, PayerPayment

    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Appointment, Encounter, ChargeLine, Claim, ClaimStatusChange, ClaimBatch, PayerPayment,
                          ClaimPosting, PatientPayment, PriorAuthorization)}


def _today():
    from app.models.base import utcnow

    return utcnow().date()


def test_claims_in_every_status_through_the_services(office):
    from app.models.claims import Claim, ClaimBatch, ClaimStatusChange
    from app.services import claim_batches, claims as claim_service

    assert re.search(r"Seeded the billing office: \d+ claims", office), office
    counts = claim_batches.status_counts(db.session)
    for status in ("draft", "ready", "submitted", "accepted", "rejected", "paid", "denied", "appealed"):
        assert counts[status] > 0, (status, counts)
    drafts = db.session.scalars(select(Claim).where(Claim.status == "draft")).all()
    problems = [claim_service.scrub(db.session, c, today=_today()) for c in drafts]
    assert any(problems), "a draft with a scrubber problem"
    assert any("points at diagnosis" in str(m) for found in problems for _f, m in found)
    # Every claim that left the drafts passed the scrubber on the day it was marked ready.
    ready_moves = db.session.scalars(select(ClaimStatusChange).where(ClaimStatusChange.to_status == "ready")).all()
    assert len(ready_moves) >= counts["ready"] + counts["submitted"] + counts["paid"]

    # A replacement (frequency 7) of an adjudicated claim, carrying the payer's claim control number.
    replacement = db.session.scalars(select(Claim).where(Claim.frequency_code == "7")).one()
    original = replacement.original_claim
    assert original.status in ("paid", "denied") and original.payer_claim_control_number
    assert replacement.status in ("ready", "submitted")

    # Real batches with their 837P; every sent claim is in one.
    batches = db.session.scalars(select(ClaimBatch)).all()
    assert len(batches) >= 5
    for batch in batches:
        assert batch.content.startswith("ISA") and "~ST*837*" in batch.content and batch.claim_count > 0
    in_batches = set(db.session.scalars(select(Claim.id).join(
        claim_batches.ClaimBatchClaim, claim_batches.ClaimBatchClaim.claim_id == Claim.id)))
    sent = set(db.session.scalars(select(Claim.id).where(Claim.status.notin_(("draft", "ready")))))
    assert sent <= in_batches
    assert "CLM*" + replacement.claim_number in "".join(b.content for b in batches)

    # Rejected by the payer's 277CA, with its reason; accepted ones carry the payer's control number.
    for claim in db.session.scalars(select(Claim).where(Claim.status == "rejected")):
        note = db.session.scalar(select(ClaimStatusChange.note).where(
            ClaimStatusChange.claim_id == claim.id, ClaimStatusChange.to_status == "rejected"))
        assert note.startswith("277CA: A") and "Rejected" in note, note
        assert claim.encounter.status == "ready"  # back to billing, to be fixed
    for claim in db.session.scalars(select(Claim).where(Claim.status.in_(("accepted", "paid", "denied")))):
        assert claim.payer_claim_control_number
    # The acknowledgements came as X12 files through the payer files service, each applied to its batch.
    from app.models.payer_files import PayerFile
    from app.services import payer_files

    files = db.session.scalars(select(PayerFile)).all()
    assert {f.kind for f in files} == {"999", "277CA"} and {f.status for f in files} == {"applied"}
    for batch in batches:
        assert "999" in {f.kind for f in payer_files.files_for_batch(db.session, batch)}
    # Nothing is dated in the future.
    latest = db.session.scalar(select(func.max(ClaimStatusChange.changed_at)))
    from app.models.base import utcnow
    assert latest <= utcnow()


def test_denials_payments_and_the_denial_rate_report(office):
    from app.models.claims import Claim
    from app.models.payments import ClaimPosting, PatientPayment, PayerPayment
    from app.services import claim_batches, posting
    from reports import denial_rate

    denied = db.session.scalars(select(Claim).where(Claim.status.in_(("denied", "appealed")))).all()
    for claim in denied:
        reasons = claim_batches.denial_reasons(db.session, claim)
        assert reasons and re.match(r"CO-\d+", reasons[0]), reasons
    today = _today()
    with db.engine.connect() as conn:
        rows = denial_rate.query(conn, {"period": (today - timedelta(days=200), today), "by": "reason"})
    assert sum(r["denied"] for r in rows) >= 1 and all(r["reason"] for r in rows if r["denied"])

    payments = db.session.scalars(select(PayerPayment)).all()
    assert len(payments) >= 3 and {"eft", "check"} <= {p.method for p in payments}
    for payment in payments:  # each payment is the sum of what it paid on its claims
        paid = sum((p.paid for p in db.session.scalars(select(ClaimPosting).where(
            ClaimPosting.payer_payment_id == payment.id))), Decimal("0.00"))
        assert paid == payment.amount and payment.paid_date <= today
    for claim in db.session.scalars(select(Claim).where(Claim.status == "paid")):
        assert posting.claim_balance(db.session, claim).insurance_balance == 0

    patient_payments = db.session.scalars(select(PatientPayment)).all()
    assert {"cash", "card", "check"} <= {p.method for p in patient_payments}
    for p in patient_payments:
        if p.method == "card":
            assert re.fullmatch(r"AP\d{6}", p.reference)
        if p.claim_id is not None:
            assert posting.claim_balance(db.session, p.claim).patient_balance >= 0
    assert any(p.claim_id is None for p in patient_payments)  # on account (a self-pay visit)


def test_aging_statements_and_authorization_alerts(office):
    from app.models.authorizations import PriorAuthorization
    from app.models.base import utcnow
    from app.services import aging, authorizations, statements

    today = _today()
    for by in ("payer", "patient"):
        rows = aging.aging(db.session, as_of=today, by=by)
        for name in aging.BUCKETS:
            assert sum((r.amounts[name] for r in rows), Decimal("0.00")) > 0, (by, name)
    due = statements.due_accounts(db.session, days=30, now=utcnow())
    assert len(due) >= 5 and all(amount > 0 for _p, amount in due)

    auths = db.session.scalars(select(PriorAuthorization)).all()
    assert len(auths) == 3
    reasons = {auth.id: why for auth, why, _used, _left in authorizations.alerts(db.session, today=today)}
    assert any("expiring" in why for why in reasons.values())
    assert any("used_up" in why for why in reasons.values())
    assert any(a.id not in reasons and a.valid_from <= today <= a.valid_to for a in auths)  # one simply valid


def test_older_visits_went_through_the_encounter_rules(office):
    from app.models import Appointment
    from app.models.billing import Encounter
    from app.services import icd10

    today = _today()
    old = db.session.scalars(select(Encounter).where(Encounter.service_date < today - timedelta(days=15))).all()
    assert len(old) >= 20
    assert min(e.service_date for e in old) <= today - timedelta(days=121)
    for e in old:
        assert e.appointment.status == "checked_out" and e.appointment.start_local.date() == e.service_date
        assert e.status in ("ready", "billed") and e.charges and e.diagnoses
        for d in e.diagnoses:
            assert icd10.lookup(db.session, d.code, e.service_date)[1] is None
    first_shown = datetime.combine(today - timedelta(days=15), time(0), tzinfo=timezone.utc)
    assert db.session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.status == "checked_out", Appointment.start_at < first_shown)) >= len(old)


def test_seed_demo_again_adds_nothing(office, runner):
    from app.services import demo_billing_flow

    before = _counts()
    result = runner.invoke(args=["clinic", "seed-demo", "--patients", "50"])
    assert result.exit_code == 0, result.output
    assert "Seeded the billing office" not in result.output
    assert _counts() == before
    assert demo_billing_flow.seed_demo(db.session, seed=7) == {}  # the flow itself runs once only
    assert _counts() == before


def test_without_a_code_set_the_flow_is_skipped(app, runner):
    from app.models.claims import Claim

    result = runner.invoke(args=["clinic", "seed-demo", "--patients", "60", "--seed", "3"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Seeded the billing office" not in result.output
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 0


def test_sizes_grow_with_the_demo():
    from app.services.demo_billing_flow import _old_days, sizes

    assert sizes(300) == (30, 52) and sizes(2000) == (64, 120) and sizes(10**6) == (72, 120)
    plan = _old_days(30, date(2026, 11, 27))
    assert all(day.weekday() < 5 for day, _ in plan)
    for low, high in ((16, 30), (31, 60), (61, 90), (91, 120), (121, 185)):
        fates = {fate for day, fate in plan if low <= (date(2026, 11, 27) - day).days <= high}
        assert {"slow", "paid_pr_unpaid", "self_pay"} <= fates, (low, high, fates)


def test_the_billing_screens_show_the_office(office, client, login_as):
    """Every new screen renders with the demo's data (and has something to show)."""
    from app.models.claims import Claim, ClaimBatch
    from app.models.payments import PatientPayment, PayerPayment
    from app.services import authorizations

    login_as("Billing")

    def page(url):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        return resp.get_data(as_text=True)

    home = page("/")
    assert 'id="card-claims"' in home and 'id="card-encounters_ready"' in home
    page("/claims/")
    denied = page("/claims/denied")
    some_denied = db.session.scalars(select(Claim).where(Claim.status == "denied")).first()
    assert some_denied.claim_number in denied
    page("/claims/build")
    batches = page("/claims/batches")
    batch = db.session.scalars(select(ClaimBatch)).first()
    assert f"{batch.interchange_control_number:09d}" in batches
    assert client.get(f"/claims/batches/{batch.id}/download").status_code == 200
    for status in ("draft", "ready", "submitted", "accepted", "rejected", "paid", "denied", "appealed"):
        claim = db.session.scalars(select(Claim).where(Claim.status == status)).first()
        assert claim.claim_number in page(f"/claims/{claim.id}")
    page("/payments/")
    payment = db.session.scalars(select(PayerPayment)).first()
    assert payment.reference in page(f"/payments/{payment.id}")
    page("/patient-payments/")
    from app.models.payer_files import PayerFile

    assert "277CA" in page("/payer-files/")
    ack = db.session.scalars(select(PayerFile).where(PayerFile.kind == "277CA")).first()
    page(f"/payer-files/{ack.id}")
    receipt = db.session.scalars(select(PatientPayment)).first()
    assert receipt.receipt_number in page(f"/patient-payments/{receipt.id}")
    assert "statements-none" not in page("/statements/?days=30")
    for report in ("ar_aging_by_payer", "ar_aging_by_patient", "claims_by_status", "denial_rate"):
        page(f"/reports/{report}/")
    assert 'id="card-authorization_alerts"' in home
    alerts = page("/authorizations/")
    assert all(auth.number in alerts for auth, _why, _u, _l in authorizations.alerts(db.session))

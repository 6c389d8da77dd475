"""Claims in bulk (app/services/claim_batches.py): building from ready encounters, scrubbing to ready,
sending one 837P interchange stored as a ClaimBatch (pyx12 validates it), the encounter following its
claims, and every refusal translated with nothing changed."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.billing import BillingSettings, Encounter
from app.models.claims import Claim, ClaimBatch, ClaimBatchClaim, ClaimLine
from app.models.counter import Counter
from app.services import claim_batches, claims
from app.services.errors import ValidationFailed
from tests.factories import PatientFactory
from tests.integration.claims_ui_setup import (  # noqa: F401  (c is a fixture)
    assert_valid_837p, built, c, move, ready_claims, ready_encounter, segments)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def status_of(claim_id):
    db.session.expire_all()
    return db.session.get(Claim, claim_id).status


def messages(exc):
    return [str(m) for _, m in exc.value.problems]


# ------------------------------------------------------------------ build and scrub in bulk

def test_build_claims_reports_each_problem_and_builds_the_rest(c):
    one = ready_encounter(c)
    two = ready_encounter(c, lines=({"code": "81002", "fee": "12.00", "pointers": "A"},))
    uninsured = ready_encounter(c, patient=PatientFactory())
    result = claim_batches.build_claims(db.session, [one, uninsured, two], actor=c.user)
    assert sorted(claim.encounter_id for claim in result.done) == sorted([one.id, two.id])
    ((encounter, problems),) = result.problems
    assert encounter.id == uninsured.id
    assert "no active primary coverage" in str(problems[0])
    assert count(Claim) == 2
    again = claim_batches.build_claims(db.session, [one], actor=c.user)  # never twice
    assert again.done == [] and "already has claim" in str(again.problems[0][1][0])
    assert count(Claim) == 2


def test_an_encounter_whose_claim_is_drafted_is_no_longer_offered_for_building(c):
    one, two = ready_encounter(c), ready_encounter(c, lines=({"code": "81002", "fee": "12.00", "pointers": "A"},))
    assert [e.id for e in claim_batches.ready_encounters(db.session)] == [one.id, two.id]
    assert claim_batches.count_ready_encounters(db.session) == 2
    claim = claims.build_claim(db.session, one, actor=c.user)
    assert [e.id for e in claim_batches.ready_encounters(db.session)] == [two.id]
    assert claim_batches.count_ready_encounters(db.session) == 1
    move(c, claim, "void")  # a void claim carries nothing: the encounter waits for a claim again
    assert claim_batches.count_ready_encounters(db.session) == 2


def test_mark_ready_in_bulk_reports_which_became_ready_and_why_not_the_others(c):
    clean = built(c)
    broken = built(c, code="81002")
    claims.update_line(db.session, broken, broken.lines[0], units="0", expected_version=broken.version)
    result = claim_batches.mark_ready(db.session, [clean, broken], actor=c.user)
    assert [x.id for x in result.done] == [clean.id]
    ((claim, problems),) = result.problems
    assert claim.id == broken.id and [str(p) for p in problems] == ["Line 1 (81002): the units must be more than zero."]
    assert (status_of(clean.id), status_of(broken.id)) == ("ready", "draft")


def test_mark_ready_with_a_stale_version_changes_nothing(c):
    claim = built(c)
    result = claim_batches.mark_ready(db.session, [claim], actor=c.user, versions={claim.id: claim.version - 1})
    assert result.done == [] and "Someone else changed this record" in str(result.problems[0][1][0])
    assert status_of(claim.id) == "draft"


# ------------------------------------------------------------------ send

def test_send_writes_one_valid_interchange_and_marks_the_claims_submitted(c):
    first, second = ready_claims(c, 2)
    batch = claim_batches.send(db.session, [first, second], actor=c.user)
    assert_valid_837p(batch.content)
    rows = segments(batch.content)
    isa, gs = rows[0], rows[1]
    assert int(isa[13]) == batch.interchange_control_number == batch.group_control_number == int(gs[6])
    assert (gs[2], gs[3]) == ("MAINSTREET01", "CLEARHOUSE")  # no GS02/GS03 codes: the ISA ids
    assert sorted(r[1] for r in rows if r[0] == "CLM") == sorted([first.claim_number, second.claim_number])
    assert (batch.claim_count, batch.total_charge, batch.created_by_fk) == (2, Decimal("200.00"), c.user.id)
    db.session.expire_all()
    for claim in (first, second):
        claim = db.session.get(Claim, claim.id)
        assert claim.status == "submitted" and claim.submitted_at is not None
        assert claim.status_changes[-1].note == f"Sent in batch {batch.interchange_control_number:09d}"
        assert db.session.get(Encounter, claim.encounter_id).status == "billed"
    assert sorted(c_.claim_number for c_ in db.session.get(ClaimBatch, batch.id).claims) == sorted(
        [first.claim_number, second.claim_number])
    # the next batch takes the next control number
    later = claim_batches.send(db.session, [_ready(c, "93000")], actor=c.user)
    assert later.interchange_control_number == batch.interchange_control_number + 1


def _ready(c, code):
    claim = built(c, code=code)
    return move(c, claim, "ready")


def test_gs02_and_gs03_codes_of_the_billing_settings_go_into_the_group_header(c):
    settings = db.session.get(BillingSettings, 1)
    settings.gs02_sender_code, settings.gs03_receiver_code = "APPSENDER", "APPRECEIVER"
    db.session.commit()
    batch = claim_batches.send(db.session, ready_claims(c, 1), actor=c.user)
    gs = segments(batch.content)[1]
    assert (gs[2], gs[3]) == ("APPSENDER", "APPRECEIVER")
    assert segments(batch.content)[0][6].strip() == "MAINSTREET01"
    assert_valid_837p(batch.content)


def test_find_batch_by_interchange_or_group_control_number(c):
    batch = claim_batches.send(db.session, ready_claims(c, 1), actor=c.user)
    number = batch.interchange_control_number
    assert claim_batches.find_batch(db.session, interchange_control_number=f"{number:09d}").id == batch.id
    assert claim_batches.find_batch(db.session, group_control_number=str(number)).id == batch.id
    assert claim_batches.find_batch(db.session, interchange_control_number=number, group_control_number=number).id \
        == batch.id
    assert claim_batches.find_batch(db.session, interchange_control_number=number + 1) is None
    assert claim_batches.find_batch(db.session, interchange_control_number="not a number") is None
    assert claim_batches.find_batch(db.session) is None


def control_counter():
    return db.session.scalar(select(Counter.value).where(Counter.name == claim_batches.CONTROL_COUNTER))


def _nothing_sent(claim_ids, counter_before):
    assert count(ClaimBatch) == 0 and count(ClaimBatchClaim) == 0
    assert all(status_of(i) in ("ready", "draft") for i in claim_ids)
    assert control_counter() == counter_before


def test_send_refuses_an_empty_selection_and_claims_not_ready(c):
    before = control_counter()
    with pytest.raises(ValidationFailed) as exc:
        claim_batches.send(db.session, [], actor=c.user)
    assert messages(exc) == ["Choose at least one claim that is ready to send."]
    ready = ready_claims(c, 1)[0]
    draft = built(c, code="81002")
    with pytest.raises(ValidationFailed) as exc:
        claim_batches.send(db.session, [ready, draft], actor=c.user)
    assert messages(exc) == [f"Claim {draft.claim_number} is draft: only claims that are ready to send are sent."]
    _nothing_sent([ready.id, draft.id], before)


def test_send_refuses_incomplete_clearinghouse_settings(c):
    before = control_counter()
    claim = ready_claims(c, 1)[0]
    settings = db.session.get(BillingSettings, 1)
    settings.submitter_id = settings.isa_sender_id = None
    settings.receiver_name = None
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        claim_batches.send(db.session, [claim], actor=c.user)
    found = messages(exc)
    assert "The billing settings have no Interchange sender id: complete the clearinghouse part of the billing " \
           "settings." in found
    assert any("Receiver name" in m for m in found) and any("Submitter id" in m for m in found)
    _nothing_sent([claim.id], before)


def test_the_837p_writers_refusals_reach_the_user_translated_and_nothing_is_sent(c):
    before = control_counter()
    good, bad = ready_claims(c, 2)
    # A pointer to a diagnosis the claim does not have, behind the scrubber's back.
    line = db.session.scalars(select(ClaimLine).where(ClaimLine.claim_id == bad.id)).one()
    line.pointer1, line.pointer2 = 3, None
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        claim_batches.send(db.session, [good, bad], actor=c.user)
    assert messages(exc) == [f"Claim {bad.claim_number} line 1 needs one to four diagnosis pointers."]
    _nothing_sent([good.id, bad.id], before)


def test_every_writer_refusal_has_a_translated_message():
    from app.claims import x12_837p

    assert set(claim_batches.WRITER_PROBLEMS) == set(x12_837p.PROBLEM_TEXTS)


# ------------------------------------------------------------------ the encounter follows its claims

def test_a_rejected_claim_sends_the_encounter_back_to_ready_and_is_resent_in_a_second_batch(c):
    (claim,) = ready_claims(c, 1)
    first = claim_batches.send(db.session, [claim], actor=c.user)
    assert db.session.get(Encounter, claim.encounter_id).status == "billed"
    move(c, claim, "rejected", note="Invalid member id")
    db.session.expire_all()
    assert db.session.get(Encounter, claim.encounter_id).status == "ready"
    claim = db.session.get(Claim, claim.id)
    move(c, claim, "draft", "ready")
    second = claim_batches.send(db.session, [claim], actor=c.user)
    db.session.expire_all()
    assert db.session.get(Encounter, claim.encounter_id).status == "billed"
    assert sorted(db.session.scalars(select(ClaimBatchClaim.batch_id).where(ClaimBatchClaim.claim_id == claim.id))) \
        == [first.id, second.id]
    assert f"CLM*{claim.claim_number}*100***11:B:1" in second.content  # resent as an original


def test_a_claim_sent_on_paper_bills_the_encounter_too(c):
    (claim,) = ready_claims(c, 1)
    move(c, claim, "submitted")
    assert db.session.get(Encounter, claim.encounter_id).status == "billed"


# ------------------------------------------------------------------ queue helpers

def test_status_counts_and_denial_reasons(c):
    draft = built(c)
    (sent,) = ready_claims_after(c)
    claim_batches.send(db.session, [sent], actor=c.user)
    move(c, sent, "accepted", "denied", note="CO-50 not medically necessary")
    counts = claim_batches.status_counts(db.session)
    assert (counts["draft"], counts["denied"], counts["ready"], counts["paid"]) == (1, 1, 0, 0)
    assert claim_batches.denial_reasons(db.session, sent) == ["CO-50 not medically necessary"]  # nothing posted
    assert claim_batches.denial_reasons(db.session, draft) == []


def ready_claims_after(c):
    return [_ready(c, "81002")]

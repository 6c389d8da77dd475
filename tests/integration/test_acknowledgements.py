"""999 and 277CA acknowledgements of our 837P batches (app/claims/x12_ack.py, app/services/acknowledgements.py):
read from realistic files (the 277CAs and 999s written here pass pyx12), matched to the batch we sent, and
applied through the claim lifecycle: a 999 accepted changes no claim, a 999 rejected rejects the batch's
submitted claims with the IK3/IK4 errors, a 277CA accepts (payer control number stored) or rejects each
claim, a rejected claim's encounter goes back to ready. Bad input changes nothing."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.claims.x12_ack import read_277ca, read_999
from app.extensions import db
from app.models.billing import Encounter
from app.models.claims import Claim, ClaimStatusChange
from app.models.payer_files import PayerFile
from app.services import acknowledgements, claim_batches, payer_files
from app.services.errors import ValidationFailed
from tests.integration.test_x12_835 import pyx12_999
from tests.payments_setup import VISIT, billing_clinic, sent_claim
from tests.x12_payer_files import write_277ca, write_999

PATIENT = ("DOE", "JANE", "XYZ123456")


@pytest.fixture
def c(icd10_sets):
    return billing_clinic()


def sent_batch(c, count=2):
    claims = [sent_claim(c, when=VISIT + timedelta(days=i), status="ready") for i in range(count)]
    batch = claim_batches.send(c.session, claims, actor=c.user)
    return batch, [db.session.get(Claim, cl.id) for cl in claims]


def snapshot():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(ClaimStatusChange)),
            db.session.scalar(select(func.count()).select_from(PayerFile)),
            [(cl.status, cl.version, cl.payer_claim_control_number) for cl in
             db.session.scalars(select(Claim).order_by(Claim.id))],
            [e.status for e in db.session.scalars(select(Encounter).order_by(Encounter.id))])


def refused(fn, *args, **kw):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        fn(*args, **kw)
    assert snapshot() == before
    return [str(m) for _, m in exc.value.problems]


def claim(claim_id):
    db.session.expire_all()
    return db.session.get(Claim, claim_id)


def assert_valid(text, monkeypatch):
    ok, ack = pyx12_999(text, monkeypatch)
    assert "AK9*A*1*1*1~" in ack and "IK3" not in ack, ack
    return text


def assert_valid_999(text, monkeypatch):
    """pyx12 checks a 999 against the 005010X231A1 map but writes no acknowledgement of an acknowledgement:
    its verdict is the check (an IK303 of six characters, say, makes it False)."""
    ok, ack = pyx12_999(text, monkeypatch)
    assert ok and ack == "", ack
    return text


# --------------------------------------------------------------------------- 999

def test_a_999_accepted_changes_no_claim_but_is_recorded_against_the_batch(c, monkeypatch):
    batch, (one, two) = sent_batch(c)
    text = assert_valid_999(write_999(str(batch.group_control_number)), monkeypatch)
    ack = read_999(text)
    assert (ack.kind, ack.accepted, ack.group_control_number) == ("999", True, str(batch.group_control_number))
    row = payer_files.receive(c.session, text, file_name="ack.999", actor=c.user)
    assert (row.kind, row.status, row.batch_id) == ("999", "received", batch.id)
    before = snapshot()[2]
    payer_files.process(c.session, row, actor=c.user, expected_version=row.version)
    db.session.expire_all()
    row = db.session.get(PayerFile, row.id)
    assert (row.status, row.batch_id, row.processed_by_fk) == ("applied", batch.id, c.user.id)
    assert "0 claim(s) accepted, 0 rejected, 2 unchanged" in row.note
    assert snapshot()[2] == before  # the claims are still submitted, versions unchanged


def test_a_999_rejected_rejects_the_batch_claims_with_the_errors_and_their_encounters_are_ready_again(c, monkeypatch):
    batch, (one, two) = sent_batch(c)
    assert one.encounter.status == "billed"
    text = assert_valid_999(write_999(str(batch.group_control_number), accepted=False,
                                  errors=[("NM1", 15, "2010", "8", 9, 67, "7"), ("DTP", 31, "2400", "3", None, None,
                                                                                  None)]), monkeypatch)
    ack = read_999(text)
    assert not ack.accepted and ack.claims[0].reasons == [
        "Segment NM1 at position 15 (loop 2010): Segment has data element errors",
        "Element 9 (data element 67): Invalid code value",
        "Segment DTP at position 31 (loop 2400): Required segment missing",
        "One or more segments in error"]
    result = acknowledgements.apply(c.session, ack, actor=c.user)
    assert len(result.rejected) == 2
    for cl in (claim(one.id), claim(two.id)):
        assert cl.status == "rejected" and cl.encounter.status == "ready"
        change = cl.status_changes[-1]
        assert (change.from_status, change.to_status, change.changed_by_fk) == ("submitted", "rejected", c.user.id)
        assert f"999: batch {batch} rejected." in change.note and "Invalid code value" in change.note
    # the same verdict again has nothing left to reject
    assert "is still submitted" in refused(acknowledgements.apply, c.session, read_999(text), actor=c.user)[0]


def test_a_999_for_a_batch_we_never_sent_is_refused(c):
    sent_batch(c, count=1)
    problems = refused(acknowledgements.apply, c.session, read_999(write_999("987654")), actor=c.user)
    assert problems == ["No claim batch we sent has the group control number 987654: this 999 answers a file that "
                        "is not ours."]


def test_a_partial_999_is_refused_with_advice(c):
    batch, _claims = sent_batch(c)
    text = write_999(str(batch.group_control_number), accepted=False, sets=2,
                     errors=[("CLM", 20, "2300", "8", 2, 782, "6")])
    ack = read_999(text)
    assert ack.partial and not ack.accepted
    assert "Ask the clearinghouse" in refused(acknowledgements.apply, c.session, ack, actor=c.user)[0]


# --------------------------------------------------------------------------- 277CA

def test_a_277ca_accepts_and_rejects_claim_by_claim(c, monkeypatch):
    batch, (one, two) = sent_batch(c)
    text = assert_valid(write_277ca(batch.interchange_control_number, [
        (one.claim_number, one.total_charge, "A2:20:PR", "PAYER-ICN-0001", PATIENT),
        (two.claim_number, two.total_charge, ["A7:562:85", "A7:187"], None, PATIENT)]), monkeypatch)
    ack = read_277ca(text)
    assert (ack.kind, ack.interchange_control_number, ack.accepted) == ("277CA", str(batch.interchange_control_number),
                                                                          False)
    first, second = ack.claims
    assert (first.claim_number, first.accepted, first.payer_claim_control_number) == (
        one.claim_number, True, "PAYER-ICN-0001")
    assert second.reasons == [
        "A7:562:85 Acknowledgement/Rejected for Invalid Information - The claim/encounter has invalid information "
        "as specified in the Status details and has been rejected. - Entity's National Provider Identifier (NPI). "
        "(Billing Provider)",
        "A7:187 Acknowledgement/Rejected for Invalid Information - The claim/encounter has invalid information as "
        "specified in the Status details and has been rejected. - Date(s) of service."]
    row = payer_files.receive(c.session, text, file_name="claims.277", actor=c.user)
    assert (row.kind, row.batch_id) == ("277CA", batch.id)
    payer_files.process(c.session, row, actor=c.user, expected_version=row.version)
    accepted, rejected = claim(one.id), claim(two.id)
    assert (accepted.status, accepted.payer_claim_control_number, accepted.encounter.status) == (
        "accepted", "PAYER-ICN-0001", "billed")
    assert accepted.status_changes[-1].note.startswith("277CA: A2:20:PR")
    assert (rejected.status, rejected.payer_claim_control_number, rejected.encounter.status) == (
        "rejected", None, "ready")
    assert "National Provider Identifier" in rejected.status_changes[-1].note
    assert db.session.get(PayerFile, row.id).note.startswith("1 claim(s) accepted, 1 rejected")


def test_a_277ca_that_only_acknowledges_receipt_changes_nothing(c):
    batch, (one, _two) = sent_batch(c)
    ack = read_277ca(write_277ca(batch.interchange_control_number, [
        (one.claim_number, one.total_charge, "A1:19:PR", None, PATIENT)]))
    assert ack.claims[0].informational
    result = acknowledgements.apply(c.session, ack, actor=c.user)
    assert result.changes == [] and [n for n, _why in result.unchanged] == [one.claim_number]
    assert claim(one.id).status == "submitted"


def test_a_277ca_for_a_claim_that_is_not_submitted_is_refused_and_changes_nothing(c):
    batch, (one, two) = sent_batch(c)
    acknowledgements.apply(c.session, read_277ca(write_277ca(batch.interchange_control_number, [
        (one.claim_number, one.total_charge, "A2:20:PR", "ICN1", PATIENT)])), actor=c.user)
    again = read_277ca(write_277ca(batch.interchange_control_number, [
        (two.claim_number, two.total_charge, "A2:20:PR", "ICN2", PATIENT),
        (one.claim_number, one.total_charge, "A3:21", None, PATIENT)], control=702))
    problems = refused(acknowledgements.apply, c.session, again, actor=c.user)
    assert problems == [f"Claim {one.claim_number} is accepted: a 277CA can only accept or reject a submitted claim."]
    assert claim(two.id).status == "submitted"  # all or nothing: the good one waits too
    # the payer saying again what the clearinghouse said changes nothing and is no error
    repeat = read_277ca(write_277ca(batch.interchange_control_number, [
        (one.claim_number, one.total_charge, "A2:20:PR", "ICN1", PATIENT)], control=703))
    result = acknowledgements.apply(c.session, repeat, actor=c.user)
    assert result.changes == [] and result.unchanged == [
        (one.claim_number, f"Claim {one.claim_number} is already accepted: nothing to change.")]
    # a claim not sent yet is never touched by a 277CA
    draft = sent_claim(c, when=VISIT + timedelta(days=9), status="ready")
    assert refused(acknowledgements.apply, c.session, read_277ca(write_277ca(
        batch.interchange_control_number, [(draft.claim_number, "100", "A2:20:PR", None, PATIENT)], control=704)),
        actor=c.user) == [f"Claim {draft.claim_number} is ready to send: a 277CA can only accept or reject a submitted claim."]


def test_a_277ca_for_an_unknown_claim_is_refused(c):
    batch, (one, _two) = sent_batch(c)
    ack = read_277ca(write_277ca(batch.interchange_control_number, [
        ("C99999999", "10", "A2:20:PR", None, PATIENT), (one.claim_number, one.total_charge, "A2:20", None, PATIENT)]))
    assert refused(acknowledgements.apply, c.session, ack, actor=c.user) == [
        "Claim C99999999 is unknown: no claim of ours has that number."]


@pytest.mark.parametrize("mangle, expected", [
    (lambda t: t.replace("STC*A2:20:PR", "STC*"), "(STC): STC01 (the claim status) is missing"),
    (lambda t: t.replace("HL*4*3*PT", "HL*4*3*ZZ"), "(HL): HL03 is not a 277CA level"),
    (lambda t: t.rsplit("HL*4", 1)[0], "cut short"),
    (lambda t: t.replace("005010X214", "005010X212"), "not a claim acknowledgement"),
])
def test_a_malformed_277ca_is_refused_naming_the_segment(c, mangle, expected):
    text = mangle(write_277ca(42, [("C00000001", "100", "A2:20:PR", None, PATIENT)]))
    with pytest.raises(ValidationFailed) as exc:
        read_277ca(text)
    message = str(exc.value.problems[0][1])
    assert message.startswith("The 277CA file cannot be read") and expected in message, message

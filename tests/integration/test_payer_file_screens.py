"""The Payer files screens (Billing -> Payer files) and `flask clinic import-payer-file`: upload an 835,
review every claim payment matched to our claim (posting.preview), post it once; a 277CA reviewed and
applied; bad files (unknown claim, the same file twice, truncated, not X12) refused with a clear
message and nothing changed; the file's patient data never reaches the logs or the audit trail."""
import html
import json
import logging
import re
from decimal import Decimal
from io import BytesIO

import pytest
from sqlalchemy import func, select

from app.claims.remit import ClaimPayment
from app.extensions import db
from app.models import AuditEvent
from app.models.claims import Claim
from app.models.payer_files import PayerFile
from app.models.payments import ClaimPosting, PayerPayment
from app.services import claim_batches
from tests.payments_setup import billing_clinic, sent_claim
from tests.x12_payer_files import payment_for, write_277ca, write_835

D = Decimal


@pytest.fixture
def c(icd10_sets):
    return billing_clinic()


def era(c, *payments, **kw):
    """An 835 from the clinic's payer naming each claim's patient (NM1*QC) as a payer does."""
    patients = {}
    for p in payments:
        claim = db.session.scalars(select(Claim).where(Claim.claim_number == p.claim_number)).first()
        if claim is not None:
            patients[p.claim_number] = (claim.patient.family_name.upper(), claim.patient.given_name.upper(),
                                        claim.coverage.member_id)
    return write_835(list(payments), payer_name=c.payer.name, payer_id=c.payer.payer_code, patients=patients, **kw)


def upload(client, text, name="era.835"):
    data = text.encode() if isinstance(text, str) else text
    return client.post("/payer-files/upload", data={"csrf_token": client.csrf_token, "file": (BytesIO(data), name)},
                       content_type="multipart/form-data", follow_redirects=True)


def process(client, row):
    db.session.expire_all()
    row = db.session.get(PayerFile, row.id)
    return client.post(f"/payer-files/{row.id}/process", data={"csrf_token": client.csrf_token,
                                                                "version": row.version}, follow_redirects=True)


def page_of(resp):
    assert resp.status_code == 200
    return html.unescape(resp.get_data(as_text=True))


def words(page):
    """The page's text without tags, single-spaced."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(PayerFile)),
            db.session.scalar(select(func.count()).select_from(PayerPayment)),
            db.session.scalar(select(func.count()).select_from(ClaimPosting)),
            [(cl.status, cl.version) for cl in db.session.scalars(select(Claim).order_by(Claim.id))])


def only_file():
    db.session.expire_all()
    (row,) = db.session.scalars(select(PayerFile)).all()
    return row


def test_an_835_is_uploaded_reviewed_against_our_claims_and_posted_once(c, client, login_as, caplog):
    caplog.set_level(logging.DEBUG)
    login_as("Billing")
    claim = sent_claim(c, lines=(("99213", "100.00"), ("81002", "20.00")))
    text = era(c, payment_for(claim, paid="80.00", patient_responsibility="20.00", remarks=["MA01"]),
               reference="EFT5550001")
    page = page_of(upload(client, text))
    row = only_file()
    assert (row.kind, row.status, row.file_name, row.content) == ("835", "received", "era.835", text)
    assert "The 835 file era.835 was received" in page
    # the review: matched to our claim and patient, what posting will do, no problem
    assert claim.claim_number in page and c.patient.display_name in page
    assert "submitted → paid" in words(page)
    assert "EFT5550001" in page and "Post the payments" in page and "Fix the problems" not in page
    page = page_of(process(client, row))
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    (payment,) = db.session.scalars(select(PayerPayment)).all()
    assert (claim.status, claim.payer_claim_control_number) == ("paid", f"PCN{claim.claim_number}")
    assert (payment.reference, payment.amount, payment.source, payment.file_sha256, payment.method) == (
        "EFT5550001", D("80.00"), "835", row.sha256, "eft")
    row = only_file()
    assert row.status == "posted" and "1 payment(s) posted: EFT5550001." in page
    assert "Post the payments" not in page  # nothing left to do on this file
    # posting again (a second click, a stale page) posts nothing
    before = counts()
    resp = client.post(f"/payer-files/{row.id}/process", data={"csrf_token": client.csrf_token,
                                                                "version": row.version}, follow_redirects=True)
    assert "This file was already posted: nothing is done twice." in page_of(resp)
    assert counts() == before
    # the list shows the file; no patient data on it
    listing = page_of(client.get("/payer-files/"))
    assert "era.835" in listing and "posted" in listing and c.patient.display_name not in listing
    # the patient data of the file never went to the logs nor into the audit trail
    assert f"NM1*QC*1*{c.patient.family_name.upper()}" in text
    assert c.patient.family_name.upper() not in caplog.text and c.patient.family_name not in caplog.text
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "PayerFile")).all()
    assert {e.action for e in events} == {"import", "view"}
    details = [e.details if isinstance(e.details, dict) else json.loads(e.details or "{}") for e in events]
    assert all(c.patient.family_name.upper() not in json.dumps(d) and c.patient.family_name not in json.dumps(d)
               for d in details)
    assert [d["patients"] for e, d in zip(events, details) if e.action == "view"][0] == [c.patient.id]


def test_an_835_for_an_unknown_claim_posts_nothing_and_says_why(c, client, login_as):
    login_as("Billing")
    claim = sent_claim(c)
    stranger = ClaimPayment(claim_number="C99999999", status_code="1", charge=D("50"), paid=D("50"),
                            patient_responsibility=D("0"), payer_claim_control_number="X9")
    text = era(c, payment_for(claim, paid="100.00"), stranger, reference="EFT999")
    page = page_of(upload(client, text))
    assert "Unknown claim" in page and "Claim C99999999 is unknown: no claim of ours has that number." in page
    assert "Fix the problems above first" in page
    before = counts()
    page = page_of(process(client, only_file()))
    assert "Claim C99999999 is unknown" in page
    after = counts()
    assert after[1:] == before[1:]  # no payment, no posting, claims untouched
    row = only_file()
    assert row.status == "failed" and "C99999999 is unknown" in row.note
    assert db.session.get(Claim, claim.id).status == "submitted"


def test_the_same_file_twice_is_refused(c, client, login_as):
    login_as("Billing")
    claim = sent_claim(c)
    text = era(c, payment_for(claim, paid="100.00"))
    upload(client, text)
    before = counts()
    page = page_of(upload(client, text, name="copy-of-era.835"))
    assert "This file was already received on" in page and "(era.835): the same file is never read twice." in page
    assert counts() == before


@pytest.mark.parametrize("mangle, expected", [
    (lambda t: t[: len(t) * 2 // 3], "The 835 file cannot be read: segment"),
    (lambda t: t.replace("SVC*HC:99213*100*100", "SVC*HC:99213*1OO*100"), "(SVC): element 2 is not an amount"),
    (lambda t: b"%PDF-1.7 \x00\xff binary", "This is not an X12 file: it is not plain ASCII text."),
    (lambda t: "Dear billing office, please find our remittance attached.", "it does not start with an ISA segment"),
    (lambda t: t.replace("ST*835", "ST*270"), "This X12 file holds a 270 transaction"),
])
def test_a_truncated_or_garbled_file_is_refused_and_nothing_is_stored(c, client, login_as, mangle, expected):
    login_as("Billing")
    claim = sent_claim(c)
    before = counts()
    page = page_of(upload(client, mangle(era(c, payment_for(claim, paid="100.00")))))
    assert expected in page
    assert counts() == before


def test_an_empty_or_too_large_upload_is_refused(c, client, login_as, monkeypatch):
    login_as("Billing")
    assert "Choose the file to upload: it is empty." in page_of(upload(client, b""))
    from app.services import payer_files

    monkeypatch.setattr(payer_files, "MAX_SIZE", 200)
    assert "The file is too large" in page_of(upload(client, "ISA*" + "0" * 300))
    assert counts()[0] == 0


def test_a_277ca_is_reviewed_and_applied_from_the_screen(c, client, login_as):
    login_as("Billing")
    one, two = (sent_claim(c, status="ready"), sent_claim(c, when=c_when(1), status="ready"))
    batch = claim_batches.send(c.session, [one, two], actor=c.user)
    text = write_277ca(batch.interchange_control_number, [
        (one.claim_number, one.total_charge, "A2:20:PR", "ICN-1", ("DOE", "JANE", "XYZ123456")),
        (two.claim_number, two.total_charge, "A6:21:QC", None, ("DOE", "JANE", "XYZ123456"))])
    page = page_of(upload(client, text, name="acks.277"))
    assert f"Answers claim batch {batch}" in page and "Apply to the claims" in page
    assert "submitted → accepted" in words(page) and "Rejected for Missing Information" in page
    page = page_of(process(client, only_file()))
    assert "1 claim(s) accepted, 1 rejected, 0 unchanged." in page
    db.session.expire_all()
    assert [db.session.get(Claim, x.id).status for x in (one, two)] == ["accepted", "rejected"]
    assert only_file().status == "applied"


def c_when(days):
    from datetime import timedelta

    from tests.payments_setup import VISIT

    return VISIT + timedelta(days=days)


def test_the_office_manager_reviews_but_cannot_upload_or_post(c, client, login_as):
    claim = sent_claim(c)
    from app.services import payer_files

    payer_files.receive(db.session, era(c, payment_for(claim, paid="100.00")), file_name="era.835", actor=c.user)
    login_as("OfficeManager")
    listing = page_of(client.get("/payer-files/"))
    assert "era.835" in listing and "upload-payer-file" not in listing
    review = page_of(client.get(f"/payer-files/{only_file().id}"))
    assert claim.claim_number in review and "process-payer-file" not in review


def test_the_cli_imports_and_posts_through_the_same_service(c, runner, tmp_path):
    claim = sent_claim(c)
    path = tmp_path / "era.835"
    path.write_text(era(c, payment_for(claim, paid="100.00"), reference="CLI1"))
    result = runner.invoke(args=["clinic", "import-payer-file", str(path), "--process"])
    assert result.exit_code == 0, result.output
    assert "Received 835 file era.835" in result.output and "1 payment(s) posted: CLI1." in result.output
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).status == "paid"
    again = runner.invoke(args=["clinic", "import-payer-file", str(path)])
    assert again.exit_code != 0 and "refused, nothing was changed" in again.output
    assert "the same file is never read twice" in again.output
    bad = tmp_path / "bad.835"
    bad.write_text(path.read_text()[:300])
    result = runner.invoke(args=["clinic", "import-payer-file", str(bad)])
    assert result.exit_code != 0 and "The 835 file cannot be read" in result.output
    assert counts()[0] == 1


def test_a_reissued_835_paying_again_what_was_posted_is_refused_at_review(c, client, login_as):
    """A payer resending the same payment in a new file (new envelope, so another SHA-256): received, but
    the review names the earlier posting and nothing is posted twice."""
    login_as("Billing")
    claim = sent_claim(c)
    payment = payment_for(claim, paid="100.00")
    upload(client, era(c, payment, reference="EFT42", control=801))
    process(client, only_file())
    page = page_of(upload(client, era(c, payment, reference="EFT42", control=802), name="era-again.835"))
    assert "Payment EFT42 from Acme Health was already posted on" in page and "nothing is posted twice" in page
    before = counts()
    (second,) = [f for f in db.session.scalars(select(PayerFile)) if f.file_name == "era-again.835"]
    page = page_of(process(client, second))
    assert "already posted" in page and counts()[1:] == before[1:]


def test_one_file_with_two_payments_posts_both(c, client, login_as):
    from tests.x12_payer_files import write_835_sets

    login_as("Billing")
    first, second = sent_claim(c), sent_claim(c, when=c_when(1))
    text = write_835_sets(
        ([payment_for(first, paid="100.00")], dict(reference="CHK1", method="CHK", payer_name=c.payer.name,
                                                   payer_id=c.payer.payer_code)),
        ([payment_for(second, paid="60.00", patient_responsibility="40.00")],
         dict(reference="CHK2", method="CHK", payer_name=c.payer.name, payer_id=c.payer.payer_code)))
    upload(client, text)
    page = page_of(process(client, only_file()))
    assert "2 payment(s) posted: CHK1, CHK2." in page
    payments = db.session.scalars(select(PayerPayment).order_by(PayerPayment.id)).all()
    assert [(p.reference, p.amount) for p in payments] == [("CHK1", D("100.00")), ("CHK2", D("60.00"))]
    assert payments[0].file_sha256 == only_file().sha256 and payments[1].file_sha256 != payments[0].file_sha256


def test_a_file_with_two_payments_posts_both_or_neither(c, client, login_as, monkeypatch):
    """The second payment failing after the review passed (someone posted it a moment ago) takes the
    first one back: the file is posted whole or not at all."""
    from app.services import posting
    from app.services.errors import ValidationFailed
    from tests.x12_payer_files import write_835_sets

    login_as("Billing")
    first, second = sent_claim(c), sent_claim(c, when=c_when(1))
    text = write_835_sets(
        ([payment_for(first, paid="100.00")], dict(reference="CHK1", method="CHK", payer_name=c.payer.name,
                                                   payer_id=c.payer.payer_code)),
        ([payment_for(second, paid="60.00", patient_responsibility="40.00")],
         dict(reference="CHK2", method="CHK", payer_name=c.payer.name, payer_id=c.payer.payer_code)))
    upload(client, text)
    before = counts()
    real_post, calls = posting.post, []

    def second_one_fails(session, remittance, **kw):
        calls.append(remittance.reference)
        if len(calls) == 2:
            session.rollback()
            raise ValidationFailed([("reference", "CHK2 was posted by someone else a moment ago.")])
        return real_post(session, remittance, **kw)

    monkeypatch.setattr(posting, "post", second_one_fails)
    page = page_of(process(client, only_file()))
    assert calls == ["CHK1", "CHK2"] and "CHK2 was posted by someone else a moment ago." in page
    after = counts()
    assert after[1:] == before[1:]  # no payment, no posting, no claim moved
    assert only_file().status == "failed"
